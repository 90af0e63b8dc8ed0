"""Shutdown: SIGTERM to every worker while 50 jobs run.

Each job either finishes within the grace period or is put back (same attempt) and
finished by a new worker; none is lost, none stays `running`, and every worker exits 0.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from src.queue import Client

from .conftest import report
from .tasks import exec_key

RUNNING = 50
GRACE_S = 3.0


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_sigterm_to_every_worker_during_50_running_jobs(client: Client, fleet, redis) -> None:
    k = client.keys
    first = [fleet(concurrency=13, env={"AGENTQ_SHUTDOWN_GRACE_S": str(GRACE_S)},
                   args=["--id", f"shut-{i}"]) for i in range(4)]
    deadline = time.monotonic() + 30
    while await redis.zcard(k.workers) < len(first) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    # Half the jobs fit in the grace period, half do not.
    specs = [{"type": "chaos", "payload": {"ms": 2000 if i % 2 else 8000, "steps": 5},
              "max_attempts": 3} for i in range(RUNNING)]
    ids = [e.id for e in await client.enqueue_many(specs)]

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        recs = [await client.get(i) for i in ids]
        if sum(r["status"] == "running" for r in recs) == RUNNING:
            break
        await asyncio.sleep(0.05)
    running_at_term = sum(r["status"] == "running" for r in recs)
    assert running_at_term == RUNNING, f"only {running_at_term} of {RUNNING} jobs running"

    t0 = time.monotonic()
    for w in first:
        w.terminate()
    codes = [w.wait(30) for w in first]
    stop_s = time.monotonic() - t0

    after_stop = [await client.get(i) for i in ids]
    between: dict[str, int] = {}
    for r in after_stop:
        between[r["status"]] = between.get(r["status"], 0) + 1
    put_back = [r for r in after_stop if r["status"] == "queued"]
    processing_left = sum([await redis.llen(k.processing(f"shut-{i}")) for i in range(4)])
    registered_after_stop = await redis.zcard(k.workers)

    second = [fleet(concurrency=13) for _ in range(2)]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        final = [await client.get(i) for i in ids]
        if all(r["status"] in ("succeeded", "failed", "cancelled") for r in final):
            break
        await asyncio.sleep(0.2)
    statuses: dict[str, int] = {}
    for r in final:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    execs = [int(x or 0) for x in await redis.mget([exec_key(k.prefix, i) for i in ids])]
    report("shutdown", running=running_at_term, exit_codes=codes, stop_s=stop_s,
           after_sigterm=between, put_back=len(put_back), final=statuses,
           lost=RUNNING - statuses.get("succeeded", 0),
           stuck=statuses.get("running", 0) + statuses.get("queued", 0),
           executions=sum(execs), registered_after_stop=registered_after_stop)

    assert codes == [0, 0, 0, 0]
    assert stop_s < GRACE_S + 10, "workers took far longer than the grace period to stop"
    assert "running" not in between, between
    assert set(between) <= {"succeeded", "queued"}, between
    assert between.get("succeeded", 0) >= RUNNING // 2, "jobs that fit the grace period were not let finish"
    assert all(r["attempt"] == 0 and r["worker"] is None for r in put_back), put_back[:2]
    assert processing_left == 0
    assert registered_after_stop == 0, "a stopped worker stayed registered"
    assert statuses == {"succeeded": RUNNING}, statuses
    # Put-back jobs ran twice (once cut short, once to the end); the others once.
    assert sum(execs) == RUNNING + len(put_back), (sum(execs), len(put_back))
    for w in second:
        w.terminate()
    assert [w.wait(30) for w in second] == [0, 0]
