"""agentq's benchmark task: `bench_noop`, loaded with `--tasks bench.agentq_tasks`.

When BENCH_PICKUP_KEY is set (the pickup-latency run), it pushes its start time to
that Redis list; then it runs the benchmark's body (`bench/systems/body.py`): nothing,
or one INCR with `BENCH_BODY=io`.
"""

from __future__ import annotations

import os
import time

import redis.asyncio as aredis
from pydantic import BaseModel

from bench.systems.body import body_async
from src.worker import JobContext, task

_starts = os.environ.get("BENCH_PICKUP_KEY")
_redis: aredis.Redis | None = None


class NoopInput(BaseModel):
    data: str


@task("bench_noop", input=NoopInput, max_attempts=1)
async def bench_noop(ctx: JobContext, data: NoopInput) -> None:
    global _redis
    if _starts:
        if _redis is None:
            _redis = aredis.Redis.from_url(os.environ["REDIS_URL"])
        await _redis.rpush(_starts, repr(time.time()))
    await body_async()
