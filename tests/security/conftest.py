"""Fixtures of the security tests: API processes with the settings under test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.api.support import Server, base_env, start_api, stop_process


@pytest.fixture(scope="module")
def start_api_with(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    """Factory: an API process (uvicorn) with extra environment; all stopped with the module."""
    servers: list[Server] = []

    def start(url: str | None = None, **env: str) -> Server:
        server = start_api(tmp_path_factory.mktemp("api"),
                           base_env(url or redis_url, f"t{uuid.uuid4().hex[:8]}", **env))
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.http.close()
        stop_process(s.proc)


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("security")
