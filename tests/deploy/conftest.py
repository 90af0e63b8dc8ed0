"""Fixtures for the deployment tests.

No container engine runs in CI, so these tests check what can be checked without one:
the files themselves (with dclint and, where installed, `docker-compose config`) and the
exact processes compose would start, run here as plain processes against the session's
Valkey (`redis_url` from tests/conftest.py).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ._compose import DCLINT_VERSION, IN_CI, TOOLS, load_compose


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return load_compose()


def _dclint_from_tools() -> Path | None:
    exe = TOOLS / "node_modules" / ".bin" / "dclint"
    return exe if exe.exists() else None


@pytest.fixture(scope="session")
def dclint() -> Path:
    """dclint from npm, installed once into tests/deploy/.tools (git-ignored)."""
    exe = _dclint_from_tools()
    if exe is None:
        npm = shutil.which("npm")
        if npm is None:
            return _unavailable("npm is not installed, so dclint cannot be fetched")
        TOOLS.mkdir(exist_ok=True)
        try:
            done = subprocess.run(
                [npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(TOOLS),
                 f"dclint@{DCLINT_VERSION}"],
                capture_output=True, text=True, timeout=180, check=False,
            )
        except subprocess.TimeoutExpired:
            return _unavailable("npm install dclint timed out (registry unreachable?)")
        exe = _dclint_from_tools()
        if done.returncode != 0 or exe is None:
            return _unavailable(f"npm install dclint failed:\n{done.stderr[-2000:]}")
    return exe


def _unavailable(reason: str) -> Any:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the compose file must be validated)")
    pytest.skip(reason)
