"""Fair shares between concurrency keys, and per-key limits (real Valkey, worker
processes)."""

import asyncio
import time

from src.queue.models import parse_iso

from .test_lifecycle import _status, _terminal, wait_for

TASKS = ["--tasks", "tests.worker.sample_tasks"]


async def _all_ended(client, ids):
    recs = [await client.get(i) for i in ids]
    done = all(r and r["status"] in ("succeeded", "failed", "cancelled") for r in recs)
    return recs if done else None


async def test_one_keys_backlog_does_not_hold_up_another_keys_first_job(client, worker):
    worker(concurrency=1)
    worker(concurrency=1)
    backlog = await client.enqueue_many(
        [{"type": "nap", "payload": {"seconds": 0.2}, "concurrency_key": "A"}
         for _ in range(200)])
    await wait_for(lambda: _status(client, backlog[3].id, "succeeded"), timeout=15)
    b = await client.enqueue("nap", {"seconds": 0.2}, concurrency_key="B")
    b_rec = await wait_for(lambda: _terminal(client, b.id), timeout=10)
    assert b_rec["status"] == "succeeded" and b_rec["concurrency_key"] == "B"
    b_start = parse_iso(b_rec["started_at"])
    enqueued = parse_iso(b.record["created_at"])
    # A's jobs that started after B was enqueued and before B started: at most one per
    # worker (the jobs they had claimed already), so B waited at most 2 job-turns
    recs = [await client.get(j.id) for j in backlog]
    overtaking = [r for r in recs if r["started_at"]
                  and enqueued < parse_iso(r["started_at"]) < b_start]
    assert len(overtaking) <= 2, [r["started_at"] for r in overtaking]
    assert b_start - enqueued < 2 * 0.2 + 0.3
    pending = [r for r in recs if r["status"] == "queued"]
    assert len(pending) > 150  # A's backlog was still there


async def test_a_keys_limit_caps_its_running_jobs_while_other_keys_use_the_rest(
        client, worker, redis):
    for _ in range(4):
        worker(concurrency=1)
    a = await client.enqueue_many([{"type": "nap_limited", "payload": {"seconds": 0.3},
                                    "concurrency_key": "A"} for _ in range(12)])
    b = await client.enqueue_many([{"type": "nap_limited", "payload": {"seconds": 0.3},
                                    "concurrency_key": "B"} for _ in range(6)])
    most = {"A": 0, "B": 0}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for key in most:
            most[key] = max(most[key], await redis.zcard(client.keys.running(key)))
        recs = [await client.get(j.id) for j in a]
        running = sum(r["status"] == "running" for r in recs)
        assert running <= 2, "key A ran more than its limit"
        if all(r["status"] == "succeeded" for r in recs):
            break
        await asyncio.sleep(0.02)
    assert most == {"A": 2, "B": 2}
    recs = await wait_for(lambda: _all_ended(client, [j.id for j in a + b]))
    b_end = max(parse_iso(r["finished_at"]) for r in recs[len(a):])
    a_end = max(parse_iso(r["finished_at"]) for r in recs[:len(a)])
    assert b_end < a_end - 0.5  # B did not wait behind A's twelve
    assert await redis.zcard(client.keys.running("A")) == 0


async def test_a_keyed_job_of_a_killed_worker_is_recovered_and_released(client, worker, redis):
    a = worker(concurrency=2, extra_args=[*TASKS, "--id", "fair-a"])
    job = await client.enqueue("nap_limited", {"seconds": 3}, concurrency_key="K")
    await wait_for(lambda: _status(client, job.id, "running"))
    assert await redis.zscore(client.keys.running("K"), job.id) is not None
    a.kill()
    worker(concurrency=2)
    rec = await wait_for(lambda: _terminal(client, job.id), timeout=20)
    assert rec["status"] == "failed" and rec["error"]["type"] == "lost"  # max_attempts=1
    assert await redis.zcard(client.keys.running("K")) == 0


async def test_cancel_a_queued_keyed_job(client, redis):
    job = await client.enqueue("nap", {"seconds": 1}, queue="idle-fair", concurrency_key="C")
    assert await redis.llen(client.keys.key_queue("idle-fair", "C")) == 1
    assert await redis.lrange(client.keys.ring("idle-fair"), 0, -1) == [b"C"]
    rec = await client.cancel(job.id)
    assert rec["status"] == "cancelled"
    assert await redis.llen(client.keys.key_queue("idle-fair", "C")) == 0
