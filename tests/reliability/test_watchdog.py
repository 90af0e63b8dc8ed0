"""Stuck jobs: nothing stays `running` forever while its worker lives.

Three ways an attempt outlives its timeout with the worker process still alive:
- a task that swallows its cancellation (the timeout cancels it; it carries on);
- a sync task whose thread hangs (threads cannot be interrupted);
- a task that blocks the event loop (no heartbeat, no timeout, no progress: nothing
  in the process runs any more).
The first two are for the worker's watchdog (abandon the attempt at timeout + margin,
free the slot, let the fence refuse the zombie's writes); the third is for its peers
(the heartbeat stops, so the job is recovered after AGENTQ_WORKER_TIMEOUT_S) and for a
stall detector in the worker itself (exit, so a supervisor starts a clean process).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from src.queue import Client

from .conftest import FAST, report
from .tasks import exec_key

HEARTBEAT_S = float(FAST["AGENTQ_HEARTBEAT_S"])
WORKER_TIMEOUT_S = float(FAST["AGENTQ_WORKER_TIMEOUT_S"])
TASK_TIMEOUT_S = 1.0            # the timeout_s of the tasks below
MARGIN_S = max(1.0, 2 * HEARTBEAT_S)
SLACK_S = 2.5                   # scheduling slack on a busy two-core machine


async def _terminal(client: Client, job_id: str, timeout: float) -> tuple[dict, float]:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        rec = await client.get(job_id)
        if rec and rec["status"] in ("succeeded", "failed", "cancelled"):
            return rec, time.monotonic() - t0
        await asyncio.sleep(0.05)
    return await client.get(job_id), time.monotonic() - t0


async def _running(client: Client, job_id: str, timeout: float = 15) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        rec = await client.get(job_id)
        if rec and rec["status"] == "running":
            return time.monotonic()
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} never started: {await client.get(job_id)}")


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_task_ignoring_its_timeout_is_abandoned_and_its_slot_freed(client: Client, fleet, redis) -> None:
    w = fleet(concurrency=1)
    stubborn = await client.enqueue("ignores_cancel", {"ms": 30_000}, max_attempts=1)
    started = await _running(client, stubborn.id)
    after = await client.enqueue("add", {"x": 1, "y": 1})
    rec, _ = await _terminal(client, stubborn.id, TASK_TIMEOUT_S + MARGIN_S + 10)
    ended = time.monotonic() - started
    nxt, _ = await _terminal(client, after.id, 10)
    report("watchdog-ignores-cancel", status=rec["status"], error=rec["error"], ended_after_s=ended,
           bound_s=TASK_TIMEOUT_S + MARGIN_S + SLACK_S, next_job=nxt["status"],
           worker_alive=w.proc.poll() is None)
    assert rec["status"] == "failed" and rec["error"]["type"] == "timeout", rec
    assert ended <= TASK_TIMEOUT_S + MARGIN_S + SLACK_S
    assert nxt["status"] == "succeeded", "the abandoned attempt still holds the only slot"
    assert w.proc.poll() is None
    # The zombie attempt, still running in the process, cannot change the record.
    await asyncio.sleep(1.0)
    assert await client.get(stubborn.id) == rec


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_hung_sync_threads_time_out_and_sync_jobs_still_run(client: Client, fleet) -> None:
    concurrency = 2
    w = fleet(concurrency=concurrency)
    hung = [await client.enqueue("hangs_thread", {"ms": 20_000}, max_attempts=1) for _ in range(4)]
    recs = [(await _terminal(client, j.id, 15))[0] for j in hung]
    ok = await client.enqueue("sync_ok", {})
    done, took = await _terminal(client, ok.id, 10)
    report("watchdog-hung-threads", hung=len(hung), statuses=[r["status"] for r in recs],
           errors={r["error"]["type"] for r in recs if r["error"]}, next_sync=done["status"],
           next_sync_s=took)
    assert all(r["status"] == "failed" and r["error"]["type"] == "timeout" for r in recs), recs
    assert done["status"] == "succeeded" and done["result"] == {"thread": True}
    assert w.proc.poll() is None


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_sigterm_stops_a_worker_whose_task_thread_hangs(client: Client, fleet) -> None:
    w = fleet(concurrency=2)
    hung = await client.enqueue("hangs_thread", {"ms": 60_000}, max_attempts=1)
    rec, _ = await _terminal(client, hung.id, 15)
    assert rec["status"] == "failed" and rec["error"]["type"] == "timeout"
    t0 = time.monotonic()
    w.terminate()
    try:
        code = w.wait(15)
    except Exception:
        code = None
    took = time.monotonic() - t0
    report("watchdog-hung-thread-sigterm", exit_code=code, stop_s=took)
    # Nothing is running (the hung attempt already failed): stopping should take a moment.
    assert code is not None and took < 5, f"SIGTERM took {took:.1f}s (exit code {code})"


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_blocked_event_loop_job_is_recovered_by_a_peer(client: Client, fleet, redis) -> None:
    for _ in range(2):  # one takes the job and blocks its loop, the other recovers it
        fleet(concurrency=2)
    job = await client.enqueue("blocks_loop", {"ms": 15_000}, max_attempts=1)
    started = await _running(client, job.id)
    rec, _ = await _terminal(client, job.id, WORKER_TIMEOUT_S + HEARTBEAT_S + 10)
    ended = time.monotonic() - started
    report("watchdog-blocked-loop-peer", status=rec["status"], error=rec["error"], ended_after_s=ended,
           bound_s=WORKER_TIMEOUT_S + HEARTBEAT_S + SLACK_S,
           executions=int(await redis.get(exec_key(client.keys.prefix, job.id)) or 0))
    assert rec["status"] == "failed" and rec["error"]["type"] in ("lost", "timeout"), rec
    assert ended <= WORKER_TIMEOUT_S + HEARTBEAT_S + SLACK_S


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_worker_with_a_blocked_event_loop_exits_to_be_replaced(client: Client, fleet) -> None:
    """One worker: nobody else can see its silence, so it must notice its own stalled loop,
    exit (non-zero) and let the supervisor, here the test, start a fresh one."""
    w = fleet(concurrency=2)
    job = await client.enqueue("blocks_loop", {"ms": 60_000}, max_attempts=2)
    started = await _running(client, job.id)
    deadline = started + WORKER_TIMEOUT_S + HEARTBEAT_S + SLACK_S
    while w.proc.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    exited = w.proc.poll()
    report("watchdog-blocked-loop-alone", exit_code=exited,
           waited_s=time.monotonic() - started)
    assert exited not in (None, 0), "the stalled worker neither recovered nor exited"
    # The supervisor (here the test) replaces every worker that exits: each replacement
    # recovers the blocked attempt as lost; the rerun blocks and exits too, until the
    # attempts are used up and the job is dead-lettered.
    current, restarts = fleet(concurrency=2), 1
    deadline = time.monotonic() + 4 * (WORKER_TIMEOUT_S + HEARTBEAT_S + SLACK_S) + 30
    while time.monotonic() < deadline:
        rec = await client.get(job.id)
        if rec["status"] in ("succeeded", "failed", "cancelled"):
            break
        if current.proc.poll() is not None:
            current, restarts = fleet(concurrency=2), restarts + 1
        await asyncio.sleep(0.2)
    report("watchdog-blocked-loop-restarts", restarts=restarts, status=rec["status"])
    assert rec["status"] == "failed" and rec["error"]["type"] in ("lost", "timeout"), rec
    assert rec["attempt"] == 2


@pytest.mark.slow
@pytest.mark.timeout(60)
async def test_orphan_in_a_live_workers_processing_list_is_recovered(client: Client, fleet, redis) -> None:
    """Redis lost the last writes of a finished job: the envelope is back in the worker's
    processing list and the record says `running`, but the worker runs nothing."""
    from src.queue.models import Envelope, Status, dumps, make_record

    w = fleet(concurrency=2, args=["--id", "orphan-owner"])
    k = client.keys
    deadline = time.monotonic() + 15
    while not await redis.zscore(k.workers, "orphan-owner") and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    env = Envelope(id=f"orphan{int(time.time() * 1000)}", type="add", payload={"x": 1, "y": 1},
                   max_attempts=3)
    record = make_record(env, Status.RUNNING, started_at=time.time() - 5, worker="orphan-owner")
    await redis.set(k.job(env.id), dumps(record), ex=600)
    await redis.lpush(k.processing("orphan-owner"), env.dump())
    rec, took = await _terminal(client, env.id, WORKER_TIMEOUT_S * 3 + 5)
    report("watchdog-orphan", status=rec["status"], waited_s=took, worker_alive=w.proc.poll() is None)
    assert rec["status"] == "succeeded", f"still {rec['status']} after {took:.1f}s"
    # put back within two sweeps (a heartbeat apart), then run
    assert took <= 3 * HEARTBEAT_S + SLACK_S
