"""SAQ: asyncio, BLMOVE from a list, job records in Redis, concurrency 10 by default."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import redis.asyncio as aredis
from saq import Queue

from bench.systems.body import body_async
from bench.systems.common import System, main

_starts = os.environ.get("BENCH_PICKUP_KEY")
_redis: aredis.Redis | None = None


async def noop(ctx: dict[str, Any], *, data: str) -> None:
    global _redis
    if _starts:
        if _redis is None:
            _redis = aredis.Redis.from_url(os.environ["REDIS_URL"])
        await _redis.rpush(_starts, repr(time.time()))
    await body_async()


def _settings() -> dict[str, Any]:
    s: dict[str, Any] = {
        "queue": Queue.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")),
        "functions": [noop],
    }
    if os.environ.get("BENCH_CONCURRENCY"):
        s["concurrency"] = int(os.environ["BENCH_CONCURRENCY"])
    return s


# used by the `saq` command line: `saq bench.systems.saq_bench.settings`
settings = _settings() if os.environ.get("BENCH_SAQ_WORKER") else {}


class Saq(System):
    name = "saq"
    default_concurrency = 10

    async def open(self) -> None:
        self.queue = Queue.from_url(self.url)
        await self.queue.connect()

    async def close(self) -> None:
        await self.queue.disconnect()

    async def enqueue(self, payload: dict[str, Any]) -> None:
        await self.queue.enqueue("noop", data=payload["data"])

    def worker_commands(self, concurrency: int | None, procs: int) -> list[list[str]]:
        saq = os.path.join(os.path.dirname(sys.executable), "saq")
        os.environ["BENCH_SAQ_WORKER"] = "1"
        if concurrency:
            os.environ["BENCH_CONCURRENCY"] = str(concurrency)
        return [[saq, "bench.systems.saq_bench.settings", "--workers", str(procs)]]

    def queue_key(self) -> str:
        return "saq:default:queued"

    async def waiting(self, r: aredis.Redis) -> int:
        return await r.llen("saq:default:queued")

    async def pending(self, r: aredis.Redis) -> int:
        return await r.zcard("saq:default:incomplete")


if __name__ == "__main__":
    main(Saq)
