"""A real worker process against a real server: the life of a job, end to end."""

import asyncio
import time
from datetime import datetime

import orjson
import pytest

from src.queue import Client, InvalidPayload, Registry
from src.queue.registry import load_task_modules


async def wait_for(predicate, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


async def test_add_job_succeeds_with_its_result(client, worker):
    worker()
    job = await client.enqueue("add", {"x": 2, "y": 3})
    rec = await client.wait(job.id, 15)
    assert rec["status"] == "succeeded" and rec["result"] == 5 and rec["progress"] == 100
    assert rec["attempt"] == 1 and rec["worker"] and rec["started_at"] and rec["finished_at"]
    kinds = [e["status"] for _, e in await client.events(job.id) if e["type"] == "status"]
    assert kinds == ["running", "succeeded"]


async def test_progress_never_goes_down_and_sync_tasks_run_in_threads(client, worker):
    worker()
    job = await client.enqueue("slow_sync", {"seconds": 0.4})
    rec = await client.wait(job.id, 15)
    assert rec["status"] == "succeeded" and rec["result"] == {"thread": True}
    seen = [e["progress"] for _, e in await client.events(job.id) if e["type"] == "progress"]
    assert seen == [25, 50, 75, 100]


async def test_failures_retry_with_backoff_then_succeed(client, worker):
    worker()
    job = await client.enqueue("fail", {"times": 2, "message": "flaky"}, max_attempts=3)
    rec = await client.wait(job.id, 20)
    assert rec["status"] == "succeeded" and rec["attempt"] == 3
    statuses = [e["status"] for _, e in await client.events(job.id) if e["type"] == "status"]
    # each back-off: scheduled, then queued again when due (promotion), then running
    assert statuses == ["running", "scheduled", "queued", "running", "scheduled", "queued",
                        "running", "succeeded"]
    stats = await client.queues()
    assert stats["queues"][0]["retried"] == 2


async def test_backoff_grows_exponentially(client, worker):
    """The wait before attempt n+1 is base * 2**(n-1), times a jitter of 0.5-1.

    With a base of 0.25 s the five waits fall in [0.125, 0.25], [0.25, 0.5], [0.5, 1],
    [1, 2] and [2, 4] seconds. A job cannot run before it is due, so each measured gap
    is at least its lower bound whatever the load; the upper bounds allow for promotion
    (every 0.25 s) and a slow machine. A constant or a linear wait (base * n, at most
    1.25 s for the fifth) fails the last lower bounds, a faster growth the upper ones."""
    base, retries, slack = 0.25, 5, 1.0
    worker(env={"AGENTQ_RETRY_BASE_S": str(base)})
    job = await client.enqueue("fail", {"times": retries}, max_attempts=retries + 1)
    rec = await client.wait(job.id, 30)
    assert rec["status"] == "succeeded" and rec["attempt"] == retries + 1, rec

    # (promotion's `queued` between `scheduled` and `running` is not the point here)
    evs = [e for _, e in await client.events(job.id)
           if e["type"] == "status" and e["status"] != "queued"]
    expected = ["running", "scheduled"] * retries + ["running", "succeeded"]
    assert [e["status"] for e in evs] == expected
    gaps = [_epoch(b["at"]) - _epoch(a["at"]) for a, b in zip(evs, evs[1:], strict=False)
            if a["status"] == "scheduled" and b["status"] == "running"]
    assert len(gaps) == retries
    for n, gap in enumerate(gaps, 1):
        low, high = base * 2 ** (n - 1) * 0.5, base * 2 ** (n - 1)
        assert low - 0.02 <= gap <= high + slack, (n, gaps)


def _epoch(at: str) -> float:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


async def test_exhausted_attempts_dead_letter_the_job(client, worker, redis):
    worker()
    job = await client.enqueue("fail", {"times": 5, "message": "always"}, max_attempts=2)
    rec = await client.wait(job.id, 20)
    assert rec["status"] == "failed" and rec["attempt"] == 2
    assert rec["error"] == {"type": "exception", "message": "RuntimeError: always"}
    dead = await client.dead()
    assert [d["id"] for d in dead] == [job.id]
    assert (await client.requeue_dead([job.id])) == 1
    # Back from a fresh first attempt: it leaves `failed` at once (its next failure is at
    # least a run and a back-off away), runs twice more and is dead-lettered again.
    assert (await client.get(job.id))["status"] in ("queued", "running", "scheduled")
    await wait_for(lambda: _dead(client, 1), timeout=20)
    rec = await client.get(job.id)
    assert rec["status"] == "failed" and rec["attempt"] == 2
    statuses = [e["status"] for _, e in await client.events(job.id) if e["type"] == "status"]
    assert statuses.count("running") == 4, statuses


async def test_retry_exception_reschedules_after_its_delay(client, worker):
    worker()
    job = await client.enqueue("retry_later", {})
    rec = await client.wait(job.id, 15)
    assert rec["status"] == "succeeded" and rec["result"] == {"attempt": 2}


async def test_timeout_and_bad_exceptions_end_with_clear_errors(client, worker):
    w = worker()
    hang = await client.enqueue("hang", {"seconds": 1})
    bad = await client.enqueue("bad_str", {})
    unknown = await client.enqueue("no_such_task", {})
    load_task_modules()  # a producer that knows the task refuses a bad payload at once
    with pytest.raises(InvalidPayload):
        await client.enqueue("add", {"x": "not a number"})
    # one that does not import the tasks enqueues it; the worker fails it as invalid
    blind = Client(client.redis, client.keys.namespace, client.settings, tasks=Registry())
    invalid = await blind.enqueue("add", {"x": "not a number"})
    recs = [await client.wait(j.id, 15) for j in (hang, bad, unknown, invalid)]
    assert [r["status"] for r in recs] == ["failed"] * 4
    assert recs[0]["error"]["type"] == "timeout"
    assert recs[1]["error"] == {"type": "exception", "message": "BadStr: <unprintable message>"}
    assert recs[2]["error"]["type"] == "invalid" and "no_such_task" in recs[2]["error"]["message"]
    assert recs[3]["error"]["type"] == "invalid" and "x" in recs[3]["error"]["message"]
    # and the worker carries on
    ok = await client.enqueue("add", {"x": 1, "y": 1})
    assert (await client.wait(ok.id, 10))["result"] == 2
    assert w.proc.poll() is None


async def test_cancel_running_job_within_a_heartbeat(client, worker):
    worker()
    job = await client.enqueue("until_cancelled", {})
    await wait_for(lambda: _status(client, job.id, "running"))
    asked = time.monotonic()
    rec = await client.cancel(job.id)
    assert rec["status"] == "running"
    rec = await client.wait(job.id, 10)
    assert rec["status"] == "cancelled" and rec["error"]["type"] == "cancelled"
    assert time.monotonic() - asked < 0.5 + 1.0  # heartbeat 0.5 s, plus slack


async def test_cancelled_queued_job_never_runs(client, worker, redis):
    job = await client.enqueue("counted", {"seconds": 0.1})
    await client.cancel(job.id)
    worker()
    after = await client.enqueue("add", {"x": 1, "y": 1})
    await client.wait(after.id, 10)
    assert (await client.get(job.id))["status"] == "cancelled"
    assert await redis.get(f"{client.keys.prefix}:runs:{job.id}") is None


async def test_raw_lpush_from_any_client_runs(client, worker, redis):
    """CONTRACT §5: a producer in any language may LPUSH an envelope with no record."""
    worker()
    env = {"v": 1, "id": "01RAWJOB000000000000000000", "type": "add", "queue": "default",
           "payload": {"x": 40, "y": 2}, "attempt": 1, "max_attempts": 3, "timeout_s": 60,
           "enqueued_at": time.time()}
    await redis.lpush(client.keys.queue("default"), orjson.dumps(env))
    rec = await wait_for(lambda: _terminal(client, env["id"]))
    assert rec["status"] == "succeeded" and rec["result"] == 42


async def test_poison_envelope_goes_to_dead_and_worker_carries_on(client, worker, redis):
    w = worker()
    await redis.lpush(client.keys.queue("default"), b"{not json", b'{"v":1,"type":"add"}')
    ok = await client.enqueue("add", {"x": 1, "y": 2})
    assert (await client.wait(ok.id, 10))["result"] == 3
    dead = await wait_for(lambda: _dead(client, 2))
    assert {d.get("raw", "") for d in dead} >= {"{not json"}
    assert w.proc.poll() is None


async def test_burst_worker_exits_when_queues_are_empty(client, spawn_worker):
    for i in range(20):
        await client.enqueue("add", {"x": i, "y": i})
    w = spawn_worker(extra_args=["--burst"])
    assert w.wait(30) == 0
    done, _ = await client.list(status="succeeded", limit=100)
    assert len(done) == 20


async def test_max_jobs_worker_exits_cleanly_after_n_jobs(client, spawn_worker):
    for i in range(10):
        await client.enqueue("add", {"x": i, "y": i})
    w = spawn_worker(extra_args=["--max-jobs", "3"], concurrency=1)
    assert w.wait(30) == 0
    done, _ = await client.list(status="succeeded", limit=100)
    assert len(done) == 3
    assert (await client.queues())["queues"][0]["queued"] == 7


async def _status(client, job_id, status):
    rec = await client.get(job_id)
    return rec if rec and rec["status"] == status else None


async def _terminal(client, job_id):
    rec = await client.get(job_id)
    return rec if rec and rec["status"] in ("succeeded", "failed", "cancelled") else None


async def _dead(client, n):
    dead = await client.dead()
    return dead if len(dead) >= n else None


async def test_watchdog_ends_an_attempt_that_ignores_its_timeout(client, worker):
    """`stubborn` swallows the cancellation of its 0.5 s timeout and would run ~20 s: the
    watchdog alone can record its end, and only it frees the worker's one slot."""
    worker(concurrency=1)
    job = await client.enqueue("stubborn", {})
    await wait_for(lambda: _status(client, job.id, "running"))
    started = time.monotonic()
    rec = await client.wait(job.id, 15)
    assert rec["status"] == "failed", rec  # `wait` answers the `running` record on timeout
    assert rec["error"]["type"] == "timeout" and "abandoned" in rec["error"]["message"]
    assert time.monotonic() - started < 0.5 + 1.0 + 0.5 + 3  # timeout + margin + a heartbeat
    statuses = [e["status"] for _, e in await client.events(job.id) if e["type"] == "status"]
    assert statuses == ["running", "failed"]
    assert [d["id"] for d in await client.dead()] == [job.id]
    # The task is still spinning, yet the slot is free again: the next job runs now.
    ok = await client.enqueue("add", {"x": 1, "y": 1})
    assert (await client.wait(ok.id, 5))["status"] == "succeeded"
    assert time.monotonic() - started < 15  # well before `stubborn` would have returned
    assert (await client.get(job.id)) == rec


async def test_hung_threads_time_out_and_do_not_starve_other_jobs(client, worker):
    worker(concurrency=8)
    hung = [await client.enqueue("hung_thread", {}) for _ in range(8)]
    recs = [await client.wait(j.id, 10) for j in hung]
    assert {r["status"] for r in recs} == {"failed"}
    assert {r["error"]["type"] for r in recs} == {"timeout"}
    ok = [await client.enqueue("slow_sync", {"seconds": 0.2}) for _ in range(4)]
    assert [(await client.wait(j.id, 10))["status"] for j in ok] == ["succeeded"] * 4
