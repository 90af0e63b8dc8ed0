"""taskiq: asyncio, ListQueueBroker (LPUSH/BRPOP) with the Redis result backend.

Results are kept for an hour (as arq keeps its results by default), so each job
ends with a finished record in Redis like the other systems.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import redis.asyncio as aredis
from taskiq_redis import ListQueueBroker, RedisAsyncResultBackend

from bench.systems.body import COUNTER_KEY, body_async
from bench.systems.common import System, main

QUEUE = "taskiq"
RESULT_PREFIX = "taskiq-result"
_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
_starts = os.environ.get("BENCH_PICKUP_KEY")
_redis: aredis.Redis | None = None

# used by the `taskiq` command line: `taskiq worker bench.systems.taskiq_bench:broker`
broker = ListQueueBroker(_url, queue_name=QUEUE).with_result_backend(
    RedisAsyncResultBackend(_url, result_ex_time=3600, prefix_str=RESULT_PREFIX)
)


@broker.task(task_name="noop")
async def noop(data: str) -> None:
    global _redis
    if _starts:
        if _redis is None:
            _redis = aredis.Redis.from_url(_url)
        await _redis.rpush(_starts, repr(time.time()))
    await body_async()


class Taskiq(System):
    name = "taskiq"
    default_concurrency = 100

    async def open(self) -> None:
        await broker.startup()

    async def close(self) -> None:
        await broker.shutdown()

    async def enqueue(self, payload: dict[str, Any]) -> None:
        await noop.kiq(payload["data"])

    def worker_commands(self, concurrency: int | None, procs: int) -> list[list[str]]:
        taskiq = os.path.join(os.path.dirname(sys.executable), "taskiq")
        argv = [taskiq, "worker", "bench.systems.taskiq_bench:broker", "--workers", str(procs)]
        if concurrency:
            argv += ["--max-async-tasks", str(concurrency)]
        return [argv]

    def queue_key(self) -> str:
        return QUEUE

    async def waiting(self, r: aredis.Redis) -> int:
        return await r.llen(QUEUE)

    async def pending(self, r: aredis.Redis) -> int:
        # no record of running jobs: count the results written so far
        queued = await r.llen(QUEUE)
        if queued > 50:
            return queued
        results = await r.dbsize() - (1 if queued else 0) - await r.exists(COUNTER_KEY)
        return self.args.jobs - results


if __name__ == "__main__":
    main(Taskiq)
