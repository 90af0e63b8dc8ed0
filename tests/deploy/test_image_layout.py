"""What the image's runtime stage holds, rebuilt without a container engine.

The Dockerfile's python stage copies pyproject.toml, README.md and src/ and runs
`pip install .`; the runtime stage runs from /app with no source tree. The same is done
here into a temporary directory, and the installed copy (not the repository's src/) must
start the API with its UI and the worker.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ._compose import ROOT

CONTEXT = ["pyproject.toml", "README.md", "src"]  # the Dockerfile's COPY lines


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for name in CONTEXT:
        assert (ROOT / name).exists(), f"{name} is missing: `docker build` would fail"
    base = tmp_path_factory.mktemp("image")
    context, site = base / "build", base / "site"
    context.mkdir()
    shutil.copy(ROOT / "pyproject.toml", context)
    shutil.copy(ROOT / "README.md", context)
    shutil.copytree(ROOT / "src", context / "src", ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
         "--disable-pip-version-check", "--target", str(site), "."],
        cwd=context, capture_output=True, text=True, timeout=180, check=False,
    )
    if done.returncode != 0 and "No matching distribution" in done.stderr:
        pytest.skip(f"the build backend cannot be fetched here:\n{done.stderr[-1000:]}")
    assert done.returncode == 0, done.stderr
    return site


def _run(site: Path, code: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # Run away from the repository so that only the installed copy can be imported.
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTQ_", "REDIS_"))}
    return subprocess.run(
        [sys.executable, *code], cwd=cwd, capture_output=True, text=True, timeout=60,
        env={**clean, "PYTHONPATH": str(site), **env}, check=False,
    )


def test_the_package_ships_its_scripts(installed):
    lua = sorted(p.name for p in (installed / "src" / "queue" / "lua").glob("*.lua"))
    assert lua == sorted(p.name for p in (ROOT / "src" / "queue" / "lua").glob("*.lua"))
    assert (installed / "src" / "worker" / "__main__.py").exists()


def test_the_installed_worker_starts(installed, tmp_path):
    done = _run(installed, ["-m", "src.worker", "--help"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "--concurrency" in done.stdout


def test_the_installed_api_serves_the_ui_from_agentq_web_dir(installed, tmp_path):
    out = ROOT / "web" / "out"
    if not (out / "index.html").exists():
        pytest.skip("web/out is not built (make web)")
    check = (
        "import src.api.app as m, sys\n"
        f"assert m.__file__.startswith({str(installed)!r}), m.__file__\n"
        "app = m.app\n"
        "print(sorted(getattr(r, 'name', '') for r in app.routes))\n"
    )
    # The Dockerfile sets AGENTQ_WEB_DIR=/app/web/out: the package does not sit beside web/.
    done = _run(installed, ["-c", check], tmp_path, AGENTQ_WEB_DIR=str(out))
    assert done.returncode == 0, done.stderr
    assert "'ui'" in done.stdout
