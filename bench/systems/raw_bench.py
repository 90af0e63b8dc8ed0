"""The floor: what plain redis-py does with no queue library around it.

Enqueue is one MULTI{SET EX record, LPUSH envelope} per job (`enqueue_sync`: the same
with the synchronous redis-py client); the worker is a single asyncio loop doing BLMOVE
queue→processing, the task body (`bench/systems/body.py`: nothing, or one INCR), SET
the finished record, LREM from processing, one job at a time. Same record and envelope
shapes as agentq (§5).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any

import orjson
import redis
import redis.asyncio as aredis

from bench.systems.body import body_async
from bench.systems.common import PAYLOAD, System, main

QUEUE = "raw:queue"
PROCESSING = "raw:processing"
TTL_S = 604800


def _job_key(job_id: str) -> str:
    return f"raw:job:{job_id}"


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"


class Raw(System):
    name = "raw"

    async def open(self) -> None:
        self.r = aredis.Redis.from_url(self.url)

    async def close(self) -> None:
        await self.r.aclose()

    async def enqueue(self, payload: dict[str, Any]) -> None:
        pipe = self.r.pipeline(transaction=True)
        _queue_one(pipe, payload)
        await pipe.execute()

    def unsupported(self, scenario: str, concurrency: int | None, procs: int) -> str | None:
        if concurrency not in (None, 1) or procs != 1:
            return "the floor is one job at a time in one process"
        return None

    def worker_commands(self, concurrency: int | None, procs: int) -> list[list[str]]:
        return [[sys.executable, "-m", "bench.systems.raw_bench", "worker"]]

    def queue_key(self) -> str:
        return QUEUE

    async def waiting(self, r: aredis.Redis) -> int:
        return await r.llen(QUEUE)

    async def pending(self, r: aredis.Redis) -> int:
        pipe = r.pipeline(transaction=False)
        pipe.llen(QUEUE)
        pipe.llen(PROCESSING)
        a, b = await pipe.execute()
        return a + b


def _queue_one(pipe: Any, payload: dict[str, Any]) -> None:
    job_id = os.urandom(13).hex()
    envelope = {"v": 1, "id": job_id, "type": "noop", "queue": "default",
                "payload": payload, "attempt": 1, "max_attempts": 1,
                "timeout_s": 600, "enqueued_at": time.time()}
    record = {"id": job_id, "type": "noop", "queue": "default", "status": "queued",
              "progress": 0, "message": None, "payload": payload, "result": None,
              "error": None, "attempt": 0, "max_attempts": 1, "created_at": _now_iso(),
              "started_at": None, "finished_at": None, "worker": None}
    pipe.set(_job_key(job_id), orjson.dumps(record), ex=TTL_S)
    pipe.lpush(QUEUE, orjson.dumps(envelope))


async def scenario_enqueue_sync(system: Raw, args: argparse.Namespace) -> dict[str, Any]:
    """The same MULTI{SET EX, LPUSH} per job with the synchronous redis-py client."""
    r = redis.Redis.from_url(system.url)
    n = args.jobs
    r.ping()  # connect first, as the agentq client's first call does before its timing
    t0 = time.perf_counter()
    for _ in range(n):
        pipe = r.pipeline(transaction=True)
        _queue_one(pipe, PAYLOAD)
        pipe.execute()
    took = time.perf_counter() - t0
    r.close()
    return {"enqueue_per_s": n / took}


Raw.SCENARIOS = {"enqueue_sync": scenario_enqueue_sync}


async def _worker(url: str) -> None:
    r = aredis.Redis.from_url(url)
    starts = os.environ.get("BENCH_PICKUP_KEY")
    try:
        while True:
            raw = await r.blmove(QUEUE, PROCESSING, 1, "RIGHT", "LEFT")
            if raw is None:
                continue
            if starts:
                await r.rpush(starts, repr(time.time()))
            env = orjson.loads(raw)
            await body_async()
            record = {"id": env["id"], "type": env["type"], "status": "succeeded",
                      "payload": env["payload"], "result": None, "attempt": 1,
                      "finished_at": _now_iso()}
            await r.set(_job_key(env["id"]), orjson.dumps(record), ex=86400)
            await r.lrem(PROCESSING, 1, raw)
    finally:
        await r.aclose()


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        import signal

        loop = asyncio.new_event_loop()
        task = loop.create_task(_worker(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")))
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            loop.run_until_complete(task)
        except asyncio.CancelledError:
            pass
        finally:
            loop.close()
    else:
        main(Raw)
