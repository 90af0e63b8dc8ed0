"""Connecting to Redis: one place that knows URLs, timeouts and cluster mode."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster


def connect(url: str, *, cluster: bool = False, socket_timeout: float | None = 10.0, **kw: Any) -> Any:
    """An asyncio Redis client (a connection pool) for `url`.

    `cluster=True` (or AGENTQ_REDIS_CLUSTER=1) uses redis-py's cluster client; every key of
    a namespace hashes to one slot, so scripts and pipelines work unchanged.
    """
    options: dict[str, Any] = {
        "socket_connect_timeout": 3.0,
        "socket_timeout": socket_timeout,
        "health_check_interval": 30,
        **kw,
    }
    if cluster:
        options.pop("health_check_interval", None)
        return RedisCluster.from_url(url, **options)
    return aioredis.Redis.from_url(url, **options)
