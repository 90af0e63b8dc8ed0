"""Shared fixtures: one real Valkey per session (or REDIS_URL), a fresh namespace per test."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from src.queue import Client
from src.queue.settings import Settings

from .support import VALKEY_BIN, ValkeyServer, WorkerProcess


@pytest.fixture(scope="session")
def valkey_bin() -> str:
    return str(VALKEY_BIN)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """REDIS_URL when the environment sets one, else a private Valkey on a free port."""
    if os.environ.get("AGENTQ_TEST_REDIS_URL"):
        yield os.environ["AGENTQ_TEST_REDIS_URL"]
        return
    server = ValkeyServer().start()
    try:
        yield server.url
    finally:
        server.cleanup()


@pytest.fixture
def namespace() -> str:
    return f"t{secrets.token_hex(4)}"


@pytest.fixture
def settings(redis_url: str, namespace: str) -> Settings:
    return Settings(REDIS_URL=redis_url, AGENTQ_NAMESPACE=namespace, AGENTQ_HEARTBEAT_S=0.5,
                    AGENTQ_WORKER_TIMEOUT_S=3, AGENTQ_RETRY_BASE_S=0.2)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    r = aioredis.Redis.from_url(redis_url)
    yield r
    await r.aclose()


@pytest.fixture
async def client(redis_url: str, namespace: str, settings: Settings) -> AsyncIterator[Client]:
    c = Client.from_url(redis_url, namespace, settings=settings)
    yield c
    await c.close()


@pytest.fixture
def spawn_worker(redis_url: str, namespace: str) -> Iterator[Callable[..., WorkerProcess]]:
    """Factory: start `python -m src.worker` processes; all are stopped at the end."""
    started: list[WorkerProcess] = []

    def spawn(redis_url: str = redis_url, **opts: Any) -> WorkerProcess:
        opts.setdefault("namespace", namespace)
        w = WorkerProcess(redis_url, **opts)
        started.append(w)
        return w

    yield spawn
    for w in started:
        w.stop()
