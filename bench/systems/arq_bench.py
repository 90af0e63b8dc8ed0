"""arq: asyncio, jobs in a sorted set polled by the worker (`poll_delay` 0.5 s by default)."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import redis.asyncio as aredis
from arq import create_pool
from arq.connections import RedisSettings

from bench.systems.body import body_async
from bench.systems.common import System, main

_starts = os.environ.get("BENCH_PICKUP_KEY")


async def noop(ctx: dict[str, Any], data: str) -> None:
    if _starts:
        await ctx["redis"].rpush(_starts, repr(time.time()))
    await body_async()


class WorkerSettings:
    """Used by the `arq` command line: `arq bench.systems.arq_bench.WorkerSettings`."""

    functions = [noop]
    redis_settings = RedisSettings.from_dsn(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))
    if os.environ.get("BENCH_CONCURRENCY"):
        max_jobs = int(os.environ["BENCH_CONCURRENCY"])


class Arq(System):
    name = "arq"
    default_concurrency = 10

    async def open(self) -> None:
        self.pool = await create_pool(RedisSettings.from_dsn(self.url))

    async def close(self) -> None:
        await self.pool.aclose()

    async def enqueue(self, payload: dict[str, Any]) -> None:
        await self.pool.enqueue_job("noop", payload["data"])

    def worker_commands(self, concurrency: int | None, procs: int) -> list[list[str]]:
        arq = os.path.join(os.path.dirname(sys.executable), "arq")
        if concurrency:
            os.environ["BENCH_CONCURRENCY"] = str(concurrency)
        return [[arq, "bench.systems.arq_bench.WorkerSettings"] for _ in range(procs)]

    def queue_key(self) -> str:
        return "arq:queue"

    async def waiting(self, r: aredis.Redis) -> int:
        return await r.zcard("arq:queue")

    async def pending(self, r: aredis.Redis) -> int:
        queued = await r.zcard("arq:queue")
        if queued > 50:
            return queued
        running = 0
        async for _ in r.scan_iter(match="arq:in-progress:*", count=1000):
            running += 1
        return queued + running


if __name__ == "__main__":
    main(Arq)
