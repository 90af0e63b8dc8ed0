"""agentq itself: `Client.enqueue` (one EVALSHA), `python -m src.worker`."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import redis.asyncio as aredis

import bench.agentq_tasks  # noqa: F401  (registers bench_noop for the client too)
from bench.systems.common import PAYLOAD, System, main
from src.queue import Client, Keys, SyncClient

NAMESPACE = "bench"
BATCH = 100


class Agentq(System):
    name = "agentq"
    default_concurrency = 8

    async def open(self) -> None:
        self.client = Client.from_url(self.url, namespace=NAMESPACE)
        self.keys = Keys(NAMESPACE)

    async def close(self) -> None:
        await self.client.close()

    async def enqueue(self, payload: dict[str, Any]) -> None:
        await self.client.enqueue("bench_noop", payload, max_attempts=1)

    def worker_commands(self, concurrency: int | None, procs: int) -> list[list[str]]:
        argv = [sys.executable, "-m", "src.worker", "--queues", "default",
                "--tasks", "bench.agentq_tasks", "--log-level", "WARNING"]
        if concurrency:
            argv += ["--concurrency", str(concurrency)]
        return [list(argv) for _ in range(procs)]

    def queue_key(self) -> str:
        return self.keys.queue("default")

    async def waiting(self, r: aredis.Redis) -> int:
        return await r.llen(self.keys.queue("default"))

    async def pending(self, r: aredis.Redis) -> int:
        done = await r.hget(self.keys.stats, "default:succeeded")
        return self.args.jobs - int(done or 0)


async def scenario_enqueue_many(system: Agentq, args: argparse.Namespace) -> dict[str, Any]:
    """`enqueue_many` in batches of BATCH jobs, one round trip per batch."""
    n = args.jobs
    batch = [{"type": "bench_noop", "payload": PAYLOAD, "max_attempts": 1}] * BATCH
    t0 = time.perf_counter()
    for _ in range(n // BATCH):
        await system.client.enqueue_many(batch)
    return {"enqueue_per_s": (n // BATCH) * BATCH / (time.perf_counter() - t0), "batch": BATCH}


async def scenario_enqueue_sync(system: Agentq, args: argparse.Namespace) -> dict[str, Any]:
    """`SyncClient.enqueue`, one blocking call per job, as synchronous code calls it."""
    n = args.jobs
    client = SyncClient.from_url(system.url, namespace=NAMESPACE)
    try:
        client.enqueue("bench_noop", PAYLOAD, max_attempts=1)  # connect, load the script
        t0 = time.perf_counter()
        for _ in range(n):
            client.enqueue("bench_noop", PAYLOAD, max_attempts=1)
        took = time.perf_counter() - t0
    finally:
        client.close()
    return {"enqueue_per_s": n / took}


Agentq.SCENARIOS = {"enqueue_many": scenario_enqueue_many, "enqueue_sync": scenario_enqueue_sync}

if __name__ == "__main__":
    main(Agentq)
