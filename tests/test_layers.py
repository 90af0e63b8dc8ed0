"""The layers point down only: `src.api | src.worker` → `src.queue`, and no cycles.

The contracts live in pyproject.toml (`[tool.importlinter]`); these tests run them on the
tree, and on copies of it with one bad import added, to show that each rule bites.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml")], cwd=root,
                          capture_output=True, text=True, timeout=120)


def test_the_tree_keeps_every_import_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "bad_import", "broken"), [
    ("src/queue/keys.py", "import src.worker.context", "layers"),
    ("src/queue/models.py", "import src.api.deps", "layers"),
    ("src/worker/outcome.py", "import src.api.errors", "layers"),
    ("src/queue/errors.py", "import src.queue.client", "cycles"),
])
def test_an_upward_import_or_a_cycle_breaks_a_contract(
    tmp_path: Path, module: str, bad_import: str, broken: str
) -> None:
    shutil.copytree(ROOT / "src", tmp_path / "src",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    path = tmp_path / module
    path.write_text(path.read_text() + f"\n{bad_import}  # added by the test\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert broken in result.stdout.split("Broken contracts", 1)[1]


def test_the_api_does_not_load_the_worker_runtime() -> None:
    code = ("import sys\n"
            "from fastapi.testclient import TestClient\n"
            "from src.api.app import create_app\n"
            "from src.queue.registry import load_task_modules\n"
            "load_task_modules([])\n"
            "assert 'generate_article' in __import__('src.queue').queue.registry\n"
            "print(sorted(m for m in sys.modules if m.startswith('src.worker.')))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    loaded = result.stdout
    assert "src.worker.tasks" in loaded  # the built-in tasks, to validate payloads
    for module in ("runtime", "claimer", "finisher", "recovery", "heartbeat", "callbacks"):
        assert f"src.worker.{module}'" not in loaded
