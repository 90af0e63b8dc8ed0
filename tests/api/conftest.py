"""Fixtures of the HTTP tests: per module, one API process (and a worker) on the session's
Valkey, in a namespace of its own."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.support import Server, base_env, start_api, start_worker, stop_process


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    return tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture(scope="module")
def api_env(redis_url: str) -> dict[str, str]:
    """The environment of this module's API and workers; modules override it to add settings."""
    return base_env(redis_url, f"t{uuid.uuid4().hex[:10]}")


@pytest.fixture(scope="module")
def api(module_dir: Path, api_env: dict[str, str]) -> Iterator[Server]:
    server = start_api(module_dir / "api", api_env)
    yield server
    server.http.close()
    stop_process(server.proc)


@pytest.fixture(scope="module")
def worker(module_dir: Path, api_env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """One worker process on the `default` queue, with 4 slots, for the whole module."""
    proc = start_worker(module_dir / "worker", api_env, "--concurrency", "4")
    yield proc
    stop_process(proc, grace_s=10)


@pytest.fixture
def http(api: Server) -> httpx.Client:
    return api.http


@pytest.fixture
def queue_name() -> str:
    """A queue no worker listens on: jobs put there stay queued."""
    return f"idle-{uuid.uuid4().hex[:8]}"
