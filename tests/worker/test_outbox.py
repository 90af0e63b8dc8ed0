"""The outbox: the events of many running jobs leave together once per tick, in order,
before the job's outcome; a refused write makes the job's next write raise (real Valkey)."""

from __future__ import annotations

import time

import orjson
import pytest

from src.queue import StaleAttempt
from src.queue.models import Envelope, Status, make_record
from src.queue.ops import Ops
from src.worker.context import JobContext
from src.worker.outbox import Outbox


async def _running(client, ops: Ops, n: int, outbox: Outbox) -> list[JobContext]:
    """`n` jobs claimed and started by worker `w`, each with its context."""
    ctxs = []
    for job in await client.enqueue_many([{"type": "echo", "queue": "outbox"}] * n):
        (raw,) = await ops.claim(client.keys.processing("w"), [client.keys.queue("outbox")], 1)
        env = Envelope.model_validate_json(raw)
        assert env.id == job.id
        record = make_record(env, Status.RUNNING, started_at=time.time(), worker="w")
        ctx = JobContext(ops, "w", env, record, outbox)
        ctx.confirm(await ops.start(env, raw, client.keys.processing("w"), record) == 1)
        ctxs.append(ctx)
    return ctxs


async def test_many_jobs_events_leave_in_one_round_trip_in_order(client, settings):
    ops = Ops(client.redis, client.keys, settings)
    outbox = Outbox(ops)
    ctxs = await _running(client, ops, 40, outbox)
    for i in range(3):
        for ctx in ctxs:
            await ctx.emit("partial", {"text": f"t{i}"})
    await ctxs[0].progress(50, "half")
    sent = [e["type"] for _, e in await client.events(ctxs[0].job_id)]
    assert sent == ["status"]  # only `running`: the rest waits for the tick

    trips = []
    real = ops.run_all

    async def counted(calls, then=None):
        trips.append(len(calls))
        return await real(calls, then)

    ops.run_all = counted  # type: ignore[method-assign]
    await outbox.flush()
    assert trips == [40]  # one round trip, one call per job
    for ctx in ctxs:
        texts = [e.get("text") for _, e in await client.events(ctx.job_id)
                 if e["type"] == "partial"]
        assert texts == ["t0", "t1", "t2"]
    rec = await client.get(ctxs[0].job_id)
    assert (rec["progress"], rec["message"]) == (50, "half")
    await outbox.flush()
    assert trips == [40]  # nothing pending: no round trip


async def test_a_refused_write_makes_the_next_one_raise(client, settings, redis):
    ops = Ops(client.redis, client.keys, settings)
    outbox = Outbox(ops)
    (ctx,) = await _running(client, ops, 1, outbox)
    stolen = {**ctx.record, "worker": "someone-else"}  # recovered and run elsewhere
    await redis.set(client.keys.job(ctx.job_id), orjson.dumps(stolen))
    await ctx.emit("partial", {"text": "late"})
    await outbox.flush()
    with pytest.raises(StaleAttempt):
        await ctx.emit("partial", {"text": "later"})
    assert [e for _, e in await client.events(ctx.job_id) if e["type"] == "partial"] == []


async def test_the_last_events_go_before_the_outcome(client, worker):
    worker(concurrency=2)
    job = await client.enqueue("counted", {"seconds": 0.2})
    rec = await client.wait(job.id, 10)
    assert rec["status"] == "succeeded"
    kinds = [(e["type"], e.get("progress"), e.get("status")) for _, e in
             await client.events(job.id)]
    assert kinds[-1] == ("status", 100, "succeeded")
    assert [p for t, p, _ in kinds if t == "progress"] == list(range(10, 101, 10))
