"""Dramatiq: threads, RedisBroker (Lua scripts, messages in a hash, acks per worker).

One process runs 8 threads by default (`--processes 1`; the command line's own
default is one process per CPU). Dramatiq keeps no result unless the Results
middleware is added, so a job's trace ends at its ack.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import dramatiq
import redis
import redis.asyncio as aredis
from dramatiq.brokers.redis import RedisBroker

from bench.systems.body import body_sync
from bench.systems.common import System, main

_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
_starts = os.environ.get("BENCH_PICKUP_KEY")
_redis = redis.Redis.from_url(_url) if _starts else None

broker = RedisBroker(url=_url)
dramatiq.set_broker(broker)


@dramatiq.actor(max_retries=0)
def noop(data: str) -> None:
    if _redis is not None:
        _redis.rpush(_starts, repr(time.time()))
    body_sync()


class Dramatiq(System):
    name = "dramatiq"
    default_concurrency = 8

    async def enqueue(self, payload: dict[str, Any]) -> None:
        noop.send(payload["data"])

    def worker_commands(self, concurrency: int | None, procs: int) -> list[list[str]]:
        exe = os.path.join(os.path.dirname(sys.executable), "dramatiq")
        argv = [exe, "bench.systems.dramatiq_bench", "--processes", str(procs)]
        if concurrency:
            argv += ["--threads", str(concurrency)]
        return [argv]

    def queue_key(self) -> str:
        return "dramatiq:default"

    async def waiting(self, r: aredis.Redis) -> int:
        return await r.llen("dramatiq:default")

    async def pending(self, r: aredis.Redis) -> int:
        return await r.hlen("dramatiq:default.msgs")


if __name__ == "__main__":
    main(Dramatiq)
