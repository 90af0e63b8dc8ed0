"""The typed operations over the Lua scripts, on the real server: every state change writes
the record, the event and the counter in one step, and concurrent callers cannot double it."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from src.queue import Client, InvalidPayload, JobConflict, registry
from src.queue.models import Envelope, Status, make_record
from src.queue.ops import Buried, CallbackDue, Ops
from src.queue.registry import load_task_modules


async def _statuses(client: Client, job_id: str) -> list[str]:
    return [e["status"] for _, e in await client.events(job_id) if e["type"] == "status"]


async def _stat(client: Client, field: str) -> int:
    return int(await client.redis.hget(client.keys.stats, field) or 0)


async def test_cancel_of_a_queued_job_takes_its_envelope_out_of_the_queue(client, redis):
    keep = await client.enqueue("echo", {"n": 1}, queue="q")
    gone = await client.enqueue("echo", {"n": 2}, queue="q")
    await client.cancel(gone.id)
    envelopes = [orjson.loads(e)["id"] for e in await redis.lrange(client.keys.queue("q"), 0, -1)]
    assert envelopes == [keep.id]
    assert (await client.queues())["queues"][-1]["queued"] == 1  # "q" sorts after "default"
    assert await _statuses(client, gone.id) == ["cancelled"]
    assert await _stat(client, "q:cancelled") == 1


async def test_cancel_finds_the_envelope_in_a_long_queue_and_in_the_scheduled_set(client, redis):
    jobs = await client.enqueue_many([{"type": "echo", "payload": {"i": i}, "queue": "long"}
                                      for i in range(1200)])
    target = jobs[10]  # near the right end: the chunked scan has to reach it
    await client.cancel(target.id)
    assert await redis.llen(client.keys.queue("long")) == 1199
    ids = {orjson.loads(e)["id"] for e in await redis.lrange(client.keys.queue("long"), 0, -1)}
    assert target.id not in ids

    later = await client.enqueue("echo", {}, delay_s=3600)
    await client.cancel(later.id)
    assert await redis.zcard(client.keys.scheduled) == 0


async def test_promotion_writes_a_queued_event(client, redis, settings):
    ops = Ops(client.redis, client.keys, settings)
    job = await client.enqueue("echo", {}, delay_s=0.01)
    (raw,) = await redis.zrange(client.keys.scheduled, 0, -1)
    env = Envelope.model_validate_json(raw)
    assert await ops.promote(raw, env, make_record(env, Status.QUEUED, attempt=0)) is True
    assert await ops.promote(raw, env, make_record(env, Status.QUEUED, attempt=0)) is False
    assert (await client.get(job.id))["status"] == "queued"
    assert await _statuses(client, job.id) == ["queued"]
    assert await redis.llen(client.keys.queue("default")) == 1


async def _dead_job(client: Client, settings) -> tuple[str, bytes]:
    """A job whose record is failed and whose envelope is on the dead list."""
    job = await client.enqueue("echo", {"x": 1}, max_attempts=1, queue="nobody")
    ops = client.ops
    proc = client.keys.processing("w1")
    (raw,) = await ops.claim(proc, [client.keys.queue("nobody")], 1)
    env = Envelope.model_validate_json(raw)
    running = make_record(env, Status.RUNNING, started_at=1.0, worker="w1")
    await ops.start(env, raw, proc, running)
    failed = {**running, "status": "failed", "error": {"type": "exception", "message": "x"}}
    await ops.finish(env, raw, "w1", proc, failed, dead=True)
    return job.id, raw


async def test_twenty_concurrent_requeues_of_a_dead_job_put_it_back_once(client, redis, settings):
    job_id, _ = await _dead_job(client, settings)
    moved = await asyncio.gather(*(client.requeue_dead([job_id]) for _ in range(20)))
    assert sum(moved) == 1
    assert await redis.llen(client.keys.queue("nobody")) == 1
    assert await redis.llen(client.keys.dead) == 0
    assert (await client.get(job_id))["status"] == "queued"
    assert (await _statuses(client, job_id))[-1] == "queued"


async def test_twenty_concurrent_retries_start_a_failed_job_once(client, redis, settings):
    job_id, _ = await _dead_job(client, settings)
    results = await asyncio.gather(*(client.retry(job_id) for _ in range(20)),
                                   return_exceptions=True)
    accepted = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, JobConflict)]
    assert len(accepted) == 1 and len(refused) == 19
    assert await redis.llen(client.keys.queue("nobody")) == 1


async def test_retry_keeps_the_options_the_job_was_submitted_with(client, redis, settings):
    job = await client.enqueue("echo", {}, queue="nobody", timeout_s=1.5, max_attempts=2,
                               callback_url="https://example.com/hook")
    await client.cancel(job.id)
    await client.retry(job.id)
    (raw,) = await redis.lrange(client.keys.queue("nobody"), 0, -1)
    env = orjson.loads(raw)
    assert (env["timeout_s"], env["max_attempts"], env["callback_url"], env["queue"]) == (
        1.5, 2, "https://example.com/hook", "nobody")


async def test_bury_fails_the_record_that_waited_for_the_envelope(client, redis, settings):
    job = await client.enqueue("echo", {}, queue="nobody", callback_url="https://example.com/h")
    proc = client.keys.processing("w1")
    bad = b'{"id": "' + job.id.encode() + b'", "broken": '
    await redis.lpush(proc, bad)
    current = await redis.get(client.keys.job(job.id))
    failed = {**orjson.loads(current), "status": "failed",
              "error": {"type": "invalid", "message": "unreadable"}}
    ops = client.ops
    assert await ops.bury(proc, bad, job_id=job.id, current=current, failed=failed) \
        is Buried.RECORD_FAILED
    assert await ops.bury(proc, bad, job_id=job.id, current=current, failed=failed) is Buried.GONE
    assert await redis.lrange(client.keys.dead, 0, -1) == [bad]
    assert (await client.get(job.id))["error"]["type"] == "invalid"
    assert await _statuses(client, job.id) == ["failed"]
    assert await _stat(client, "nobody:failed") == 1
    (due,) = await ops.callbacks_due(lease_ms=1000, n=10)
    assert due.job_id == job.id and due.attempt == 1


async def test_a_leased_callback_comes_back_when_its_lease_runs_out(client, settings):
    job = await client.enqueue("echo", {}, queue="nobody", callback_url="https://example.com/h")
    await client.cancel(job.id)  # a terminal transition schedules the callback
    ops = client.ops
    (due,) = await ops.callbacks_due(lease_ms=300, n=10)
    assert await ops.callbacks_due(lease_ms=300, n=10) == []  # leased: nobody else takes it
    await asyncio.sleep(0.4)
    (again,) = await ops.callbacks_due(lease_ms=300, n=10)
    assert again.member == due.member
    assert await ops.callback_done(again, retry_at_ms=1) is True  # next attempt, due now
    (third,) = await ops.callbacks_due(lease_ms=300, n=10)
    assert isinstance(third, CallbackDue) and third.attempt == 2
    assert await ops.callback_done(third) is True
    assert await ops.callback_done(third) is False
    assert await ops.callbacks_due(lease_ms=300, n=10) == []


async def test_a_job_without_callback_url_schedules_no_callback(client):
    job = await client.enqueue("echo", {}, queue="nobody")
    await client.cancel(job.id)
    assert await client.ops.callbacks_due(lease_ms=1000, n=10) == []


async def test_enqueue_validates_the_payload_of_a_known_task(client):
    load_task_modules()
    assert "add" in registry
    with pytest.raises(InvalidPayload) as info:
        await client.enqueue("add", {"x": 1})
    assert "y" in str(info.value)
    assert info.value.validation_error.errors()[0]["loc"] == ("y",)
    unknown = await client.enqueue("made_up_elsewhere", {"anything": True})
    assert unknown.record["status"] == "queued"


async def test_enqueue_takes_the_task_defaults_from_the_registry(client):
    load_task_modules(["tests.worker.sample_tasks"])
    job = await client.enqueue("hang", {"seconds": 1}, queue="nobody")
    assert job.record["max_attempts"] == registry.defaults_for("hang")[0] == 1
    job = await client.enqueue("hang", {"seconds": 1}, queue="nobody", max_attempts=4)
    assert job.record["max_attempts"] == 4
    job = await client.enqueue("made_up_elsewhere", {}, queue="nobody")
    assert job.record["max_attempts"] == 3


def test_every_script_has_its_typed_operation_and_nothing_else_spells_keys_and_args() -> None:
    """One method of `ops.py` per Lua script; no other module runs a script by name."""
    import re
    from pathlib import Path

    from src.queue import scripts

    root = Path(scripts.__file__).parents[1]
    ops_text = (root / "queue" / "ops.py").read_text()
    called = set(re.findall(r'(?:_call\(|Call\(redis, )\s*"(\w+)"', ops_text))
    assert called == set(scripts.load_all())
    for path in root.rglob("*.py"):
        if path.name in ("ops.py", "scripts.py"):
            continue
        text = path.read_text()
        assert "scripts.run" not in text and "evalsha" not in text.lower(), path
