"""Chaos: workers killed with SIGKILL every 2 s (and replaced) while jobs run.

Every job must end `succeeded`, with exactly one `succeeded` status event; re-runs
(at-least-once) are counted and must be explained by the kills; every dead worker's
jobs must be back in a queue within AGENTQ_WORKER_TIMEOUT_S plus a heartbeat (and slack).
"""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from src.queue import Client

from .conftest import FAST, report, size
from .tasks import exec_key

WORKERS = 4
CONCURRENCY = 2
KILL_EVERY_S = 2.0
TIMEOUT_S = float(FAST["AGENTQ_WORKER_TIMEOUT_S"])
HEARTBEAT_S = float(FAST["AGENTQ_HEARTBEAT_S"])


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_sigkill_every_two_seconds_loses_nothing(client: Client, fleet, redis) -> None:
    n_jobs = size(300, 1000)
    min_kills = size(6, 20)
    rng = random.Random(5)
    specs = [{"type": "chaos", "payload": {"ms": rng.randint(50, 500), "steps": 2},
              "max_attempts": 25} for _ in range(n_jobs)]
    k = client.keys
    ids: list[str] = []

    async def produce() -> None:
        """Jobs arrive at a steady rate, so the run lasts long enough for `min_kills` kills."""
        per_tick = max(1, round(n_jobs / ((min_kills + 4) * KILL_EVERY_S) / 4))
        for start in range(0, n_jobs, per_tick):
            ids.extend(e.id for e in await client.enqueue_many(specs[start:start + per_tick]))
            await asyncio.sleep(0.25)

    producer = asyncio.create_task(produce())
    workers = {}
    for i in range(WORKERS):
        workers[f"chaos-{i}"] = fleet(concurrency=CONCURRENCY, args=["--id", f"chaos-{i}"])
    next_id = WORKERS
    kills: list[tuple[str, float]] = []          # (worker id, when)
    recovery: dict[str, float] = {}               # worker id -> seconds until its list emptied
    started = time.monotonic()
    deadline = started + size(240, 500)
    next_kill = started + KILL_EVERY_S

    async def done_count() -> int:
        if not ids:
            return 0
        raws = await redis.mget([k.job(i) for i in ids])
        return sum(1 for r in raws if r and b'"status":"succeeded"' in r)

    finished = 0
    while time.monotonic() < deadline:
        now = time.monotonic()
        if now >= next_kill:
            next_kill = now + KILL_EVERY_S
            victim = rng.choice(sorted(workers))
            workers.pop(victim).kill()
            kills.append((victim, time.monotonic()))
            new = f"chaos-{next_id}"
            next_id += 1
            workers[new] = fleet(concurrency=CONCURRENCY, args=["--id", new])
        for victim, when in kills:
            if victim not in recovery and await redis.llen(k.processing(victim)) == 0:
                recovery[victim] = time.monotonic() - when
        finished = await done_count()
        if finished == n_jobs and len(recovery) == len(kills):
            break
        await asyncio.sleep(0.1)
    elapsed = time.monotonic() - started
    producer.cancel()
    await asyncio.gather(producer, return_exceptions=True)
    assert len(ids) == n_jobs, f"only {len(ids)} of {n_jobs} jobs were enqueued in time"

    records = [await client.get(i) for i in ids]
    statuses: dict[str, int] = {}
    for r in records:
        s = r["status"] if r else "missing"
        statuses[s] = statuses.get(s, 0) + 1
    execs = [int(x or 0) for x in await redis.mget([exec_key(k.prefix, i) for i in ids])]
    duplicates = sum(execs) - sum(1 for e in execs if e)
    never_ran = sum(1 for e in execs if e == 0)
    succeeded_events = []
    for i in ids:
        evs = await client.events(i, count=1000)
        succeeded_events.append(sum(1 for _, e in evs if e["type"] == "status"
                                    and e["status"] == "succeeded"))
    twice = sum(1 for c in succeeded_events if c != 1)
    unrecovered = [v for v, _ in kills if v not in recovery]
    worst = max(recovery.values(), default=0.0)
    attempts = max((r["attempt"] for r in records if r), default=0)
    report("chaos", jobs=n_jobs, workers=WORKERS, concurrency=CONCURRENCY, kills=len(kills),
           succeeded=statuses.get("succeeded", 0), lost=n_jobs - statuses.get("succeeded", 0),
           stuck=statuses.get("running", 0) + statuses.get("queued", 0),
           duplicates_executed=duplicates, succeeded_twice=twice,
           worst_recovery_s=worst, max_attempt=attempts, seconds=elapsed, statuses=statuses)

    assert statuses == {"succeeded": n_jobs}, statuses
    assert never_ran == 0
    assert twice == 0, "a job's record went to succeeded more than once"
    assert len(kills) >= min_kills, f"only {len(kills)} kills: the run was too short to mean much"
    # Each kill can re-run at most the jobs that worker was running.
    assert duplicates <= len(kills) * CONCURRENCY, (duplicates, len(kills))
    assert not unrecovered, f"jobs of {unrecovered} were never put back"
    assert worst <= TIMEOUT_S + HEARTBEAT_S + 2.0, recovery
