"""The outbox: the events of many running jobs leave together once per tick, in order,
before the job's outcome; a refused write makes the job's next write raise (real Valkey)."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from src.queue import StaleAttempt
from src.queue.models import Envelope, Status, make_record
from src.queue.ops import Ops
from src.worker import outbox as outbox_module
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


def _count_round_trips(ops: Ops) -> list[int]:
    """From now on, the number of script calls of each round trip `ops` makes."""
    trips: list[int] = []
    real = ops.run_all

    async def counted(calls, then=(), sent=None):
        trips.append(len(calls))
        return await real(calls, then, sent)

    ops.run_all = counted  # type: ignore[method-assign]
    return trips


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

    trips = _count_round_trips(ops)
    await outbox.flush()
    assert len(trips) == 1  # one round trip for all 40 jobs
    for ctx in ctxs:
        texts = [e.get("text") for _, e in await client.events(ctx.job_id)
                 if e["type"] == "partial"]
        assert texts == ["t0", "t1", "t2"]
    rec = await client.get(ctxs[0].job_id)
    assert (rec["progress"], rec["message"]) == (50, "half")
    await outbox.flush()
    assert len(trips) == 1  # nothing pending: no round trip


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


async def test_more_jobs_than_one_call_holds_still_leave_in_one_round_trip(
        client, settings, monkeypatch):
    monkeypatch.setattr(outbox_module, "BATCH_JOBS", 7)
    ops = Ops(client.redis, client.keys, settings)
    outbox = Outbox(ops)
    ctxs = await _running(client, ops, 20, outbox)
    for i in range(2):
        for ctx in ctxs:
            await ctx.emit("partial", {"text": f"{ctx.job_id}:{i}"})
    trips = _count_round_trips(ops)
    await outbox.flush()
    assert trips == [3]  # 7 + 7 + 6 jobs: three script calls, one round trip
    for ctx in ctxs:
        texts = [e.get("text") for _, e in await client.events(ctx.job_id)
                 if e["type"] == "partial"]
        assert texts == [f"{ctx.job_id}:0", f"{ctx.job_id}:1"]


async def test_a_stale_job_in_a_batch_does_not_stop_the_others(client, settings, redis):
    ops = Ops(client.redis, client.keys, settings)
    outbox = Outbox(ops)
    ctxs = await _running(client, ops, 3, outbox)
    stolen = {**ctxs[1].record, "worker": "someone-else"}
    await redis.set(client.keys.job(ctxs[1].job_id), orjson.dumps(stolen))
    for ctx in ctxs:
        await ctx.emit("partial", {"text": "x"})
    await outbox.flush()
    partials = [[e for _, e in await client.events(c.job_id) if e["type"] == "partial"]
                for c in ctxs]
    assert [len(p) for p in partials] == [1, 0, 1]
    await ctxs[0].emit("partial", {"text": "y"})
    await ctxs[2].emit("partial", {"text": "y"})
    with pytest.raises(StaleAttempt):
        await ctxs[1].emit("partial", {"text": "y"})


async def test_events_a_redis_outage_refused_leave_at_the_next_tick_in_order(client, settings):
    ops = Ops(client.redis, client.keys, settings)
    outbox = Outbox(ops)
    ctxs = await _running(client, ops, 2, outbox)
    for ctx in ctxs:
        await ctx.progress(10, "a")
        await ctx.emit("partial", {"text": "1"})
    real = ops.run_all

    async def down(calls, then=(), sent=None):
        for ctx in ctxs:  # the task goes on emitting while the write fails
            await ctx.emit("partial", {"text": "2"})
        raise RedisConnectionError("connection refused")

    ops.run_all = down  # type: ignore[method-assign]
    await outbox.flush()
    for ctx in ctxs:
        assert [e["type"] for _, e in await client.events(ctx.job_id)] == ["status"]
    ops.run_all = real  # type: ignore[method-assign]
    await outbox.flush()
    for ctx in ctxs:
        sent = [(e["type"], e.get("text") or e.get("message"))
                for _, e in await client.events(ctx.job_id)]
        assert sent == [("status", None), ("progress", "a"), ("partial", "1"),
                        ("partial", "2")]
        assert (await client.get(ctx.job_id))["progress"] == 10


async def test_settled_waits_for_the_flush_in_flight(client, settings):
    """The finisher waits on it: a job's outcome must not overtake its last events."""
    ops = Ops(client.redis, client.keys, settings)
    outbox = Outbox(ops)
    (ctx,) = await _running(client, ops, 1, outbox)
    await outbox.settled()  # nothing in flight: at once
    await ctx.emit("partial", {"text": "last"})
    real = ops.run_all

    async def slow(calls, then=(), sent=None):
        await asyncio.sleep(0.3)
        return await real(calls, then, sent)

    ops.run_all = slow  # type: ignore[method-assign]
    flushing = asyncio.create_task(outbox.flush())
    await asyncio.sleep(0.05)
    assert outbox.take([ctx]) == []  # the flush holds the event
    await outbox.settled()
    assert [e.get("text") for _, e in await client.events(ctx.job_id)
            if e["type"] == "partial"] == ["last"]
    await flushing
