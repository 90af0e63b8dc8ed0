"""The task body every system runs: empty, or one Redis call (`BENCH_BODY=io`).

The I/O body is an `INCR` of one counter key through a Redis client of the task's own,
made once per worker process on first use: an asyncio client (`redis.asyncio`) for the
asyncio systems, a synchronous one for the others (Dramatiq's threads share it, as they
share a connection pool). Only redis-py and the standard library, so every virtualenv
can import it.
"""

from __future__ import annotations

import os
from typing import Any

BODY = os.environ.get("BENCH_BODY", "empty")
IO = BODY == "io"
COUNTER_KEY = "bench:counter"
BODIES = ("empty", "io")

_async_client: Any = None
_sync_client: Any = None


def _url() -> str:
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


async def body_async() -> None:
    """The asyncio systems' task body."""
    global _async_client
    if not IO:
        return
    if _async_client is None:
        import redis.asyncio as aredis

        _async_client = aredis.Redis.from_url(_url())
    await _async_client.incr(COUNTER_KEY)


def body_sync() -> None:
    """The synchronous systems' task body."""
    global _sync_client
    if not IO:
        return
    if _sync_client is None:
        import redis

        _sync_client = redis.Redis.from_url(_url())
    _sync_client.incr(COUNTER_KEY)
