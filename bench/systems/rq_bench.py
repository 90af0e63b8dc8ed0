"""RQ: synchronous; one job at a time per worker process.

`--variant simple` runs `rq worker -w rq.worker.SimpleWorker` (the job runs in the
worker process); `--variant fork` runs the default Worker, which forks a work horse
per job. RQ has no in-process concurrency, so "concurrency 10" does not apply.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import redis
import redis.asyncio as aredis
from rq import Queue

from bench.systems.body import body_sync
from bench.systems.common import System, main

_starts = os.environ.get("BENCH_PICKUP_KEY")
_redis = redis.Redis.from_url(os.environ["REDIS_URL"]) if _starts else None


def noop(data: str) -> None:
    if _redis is not None:
        _redis.rpush(_starts, repr(time.time()))
    body_sync()


class Rq(System):
    name = "rq"
    default_concurrency = 1

    async def open(self) -> None:
        self.name = f"rq-{self.args.variant or 'fork'}"
        self.conn = redis.Redis.from_url(self.url)
        self.queue = Queue("default", connection=self.conn)

    async def close(self) -> None:
        self.conn.close()

    async def enqueue(self, payload: dict[str, Any]) -> None:
        self.queue.enqueue("bench.systems.rq_bench.noop", payload["data"])

    def unsupported(self, scenario: str, concurrency: int | None, procs: int) -> str | None:
        if concurrency not in (None, 1):
            return "RQ runs one job at a time per worker process"
        return None

    def worker_commands(self, concurrency: int | None, procs: int) -> list[list[str]]:
        exe = os.path.join(os.path.dirname(sys.executable), "rq")
        argv = [exe, "worker", "-u", self.url, "--quiet", "default"]
        if self.args.variant == "simple":
            argv[2:2] = ["-w", "rq.worker.SimpleWorker"]
        return [list(argv) for _ in range(procs)]

    def queue_key(self) -> str:
        return "rq:queue:default"

    async def waiting(self, r: aredis.Redis) -> int:
        return await r.llen("rq:queue:default")

    async def pending(self, r: aredis.Redis) -> int:
        queued = await r.llen("rq:queue:default")
        if queued > 20:
            return queued
        return self.args.jobs - await r.zcard("rq:finished:default")


if __name__ == "__main__":
    main(Rq)
