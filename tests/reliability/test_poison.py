"""Poison and bad input, raw LPUSH bypassing the API: the worker survives every one, and
each job ends with a clear `error` (or, when nothing in it is readable, on the dead list).

Covered in tests/worker already (not repeated alone here): `{not json`, an envelope
missing fields, unknown type and invalid payload through the client, a hang past the
timeout, an exception whose `__str__` raises. They come back below in the mix under load.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import orjson
import pytest

from src.queue import Client
from src.queue.models import Envelope, Status, dumps, make_record, new_id

from .conftest import report, size

TERMINAL = ("succeeded", "failed", "cancelled")
SAMPLE = "tests.worker.sample_tasks"


def envelope(type_: str, payload: Any = None, **extra: Any) -> dict[str, Any]:
    return {"v": 1, "id": new_id(), "type": type_, "queue": "default",
            "payload": {} if payload is None else payload, "attempt": 1, "max_attempts": 1,
            "enqueued_at": time.time(), **extra}


async def wait_terminal(client: Client, ids: list[str], timeout: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    done: dict[str, dict] = {}
    while time.monotonic() < deadline:
        for i in ids:
            if i not in done:
                rec = await client.get(i)
                if rec and rec["status"] in TERMINAL:
                    done[i] = rec
        if len(done) == len(ids):
            break
        await asyncio.sleep(0.1)
    return done


UNREADABLE = [
    b"[]", b'"a string"', b"null", b"42", b"\xff\xfe\x00garbage", b"",
    b"[" * 100_000 + b"]" * 100_000,                      # nesting far past any parser's limit
    orjson.dumps({"v": 2, "id": "x", "type": "add"}),    # a version this worker does not know
]


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_unreadable_envelopes_are_dead_lettered_and_the_worker_carries_on(
        client: Client, fleet, redis) -> None:
    w = fleet(concurrency=2)
    q = client.keys.queue("default")
    for raw in UNREADABLE:
        await redis.lpush(q, raw)
    ok = await client.enqueue("add", {"x": 1, "y": 2})
    rec = await client.wait(ok.id, 20)
    deadline = time.monotonic() + 10
    while await redis.llen(client.keys.dead) < len(UNREADABLE) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    dead = await redis.lrange(client.keys.dead, 0, -1)
    report("poison-unreadable", pushed=len(UNREADABLE), dead=len(dead),
           worker_alive=w.proc.poll() is None)
    assert rec["status"] == "succeeded" and rec["result"] == 3
    assert sorted(dead) == sorted(UNREADABLE)
    assert await redis.llen(q) == 0
    assert w.proc.poll() is None
    assert "Traceback" not in w.log(), w.log()[-3000:]


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_raw_envelopes_that_fail_in_the_worker_end_with_clear_errors(
        client: Client, fleet, redis) -> None:
    w = fleet(concurrency=2)
    q = client.keys.queue("default")
    cases = {
        "unknown type": (envelope("no_such_task"), "invalid", "no_such_task"),
        "bad payload": (envelope("add", {"x": "one", "y": 2}), "invalid", "x"),
        "payload not an object": (envelope("add", [1, 2]), "invalid", "add"),
        "unserialisable result": (envelope("unserialisable"), "exception", "JSON"),
    }
    for env, _, _ in cases.values():
        await redis.lpush(q, orjson.dumps(env))
    nonsense = await client.enqueue("huge_progress", {})
    recs = await wait_terminal(client, [e["id"] for e, _, _ in cases.values()] + [nonsense.id], 30)
    alive = w.proc.poll() is None
    outcomes = {name: (recs.get(env["id"]) or {}).get("error") for name, (env, _, _) in cases.items()}
    report("poison-in-worker", cases=len(cases), finished=len(recs), worker_alive=alive,
           errors=outcomes)
    for name, (env, kind, words) in cases.items():
        rec = recs.get(env["id"])
        assert rec is not None, f"{name}: never finished ({await client.get(env['id'])})"
        assert rec["status"] == "failed", (name, rec)
        assert rec["error"]["type"] == kind, (name, rec["error"])
        assert words.lower() in rec["error"]["message"].lower(), (name, rec["error"])
    # Nonsense progress is clamped, the job succeeds.
    assert recs[nonsense.id]["status"] == "succeeded" and recs[nonsense.id]["progress"] == 100
    assert alive, w.log()[-3000:]


@pytest.mark.slow
@pytest.mark.timeout(60)
async def test_sys_exit_in_a_task_fails_the_job_not_the_worker(client: Client, fleet, redis) -> None:
    w = fleet(concurrency=2)
    job = await client.enqueue("exits", {}, max_attempts=2)
    recs = await wait_terminal(client, [job.id], 15)
    alive = w.proc.poll() is None
    rec = recs.get(job.id) or await client.get(job.id)
    report("poison-sys-exit", status=rec["status"], error=rec["error"], worker_alive=alive)
    assert alive, "the worker stopped because a task called sys.exit()"
    assert rec["status"] == "failed" and rec["error"]["type"] == "exception"
    assert "SystemExit" in rec["error"]["message"]


@pytest.mark.slow
@pytest.mark.timeout(60)
async def test_invalid_envelope_of_a_known_job_fails_its_record(client: Client, fleet, redis) -> None:
    """A producer in another language writes the record, then LPUSHes a malformed envelope."""
    w = fleet(concurrency=2)
    k = client.keys
    env = Envelope(id=new_id(), type="add", payload={"x": 1, "y": 2})
    await redis.set(k.job(env.id), dumps(make_record(env, Status.QUEUED, attempt=0)), ex=600)
    bad = {**orjson.loads(env.dump()), "attempt": 0, "max_attempts": "many"}
    await redis.lpush(k.queue("default"), orjson.dumps(bad))
    recs = await wait_terminal(client, [env.id], 10)
    rec = await client.get(env.id)
    report("poison-bad-envelope-with-record", status=rec["status"], error=rec["error"],
           dead=await redis.llen(k.dead), worker_alive=w.proc.poll() is None)
    assert w.proc.poll() is None
    assert env.id in recs, f"the record stayed {rec['status']!r}"
    assert rec["status"] == "failed" and rec["error"]["type"] == "invalid"


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_poison_mixed_into_load(client: Client, fleet, redis) -> None:
    """Good jobs and every kind of poison, interleaved; two workers."""
    good_n = size(300, 1000)
    workers = [fleet(concurrency=4, tasks=(SAMPLE,)) for _ in range(2)]
    k = client.keys
    q = k.queue("default")
    rng = random.Random(7)
    kinds = ["unreadable", "unknown", "bad_payload", "hang", "bad_str", "unserialisable"]
    expected: dict[str, str] = {}       # job id -> error type
    good: list[str] = []
    unreadable = 0
    for i in range(good_n):
        env = envelope("chaos", {"ms": rng.randint(5, 50), "steps": 1})
        good.append(env["id"])
        await redis.lpush(q, orjson.dumps(env))
        if i % 10 == 0:
            kind = kinds[(i // 10) % len(kinds)]
            if kind == "unreadable":
                await redis.lpush(q, rng.choice(UNREADABLE[:-2]))
                unreadable += 1
                continue
            bad = {"unknown": envelope("nope"), "bad_payload": envelope("add", {"x": []}),
                   "hang": envelope("hang", {"seconds": 1}), "bad_str": envelope("bad_str"),
                   "unserialisable": envelope("unserialisable")}[kind]
            expected[bad["id"]] = {"unknown": "invalid", "bad_payload": "invalid",
                                   "hang": "timeout"}.get(kind, "exception")
            await redis.lpush(q, orjson.dumps(bad))
    t0 = time.monotonic()
    recs = await wait_terminal(client, good + list(expected), size(90, 240))
    took = time.monotonic() - t0
    execs = [int(x or 0) for x in await redis.mget([f"{k.prefix}:exec:{i}" for i in good])]
    wrong = {i: recs.get(i, {}).get("error") for i, kind in expected.items()
             if (recs.get(i) or {}).get("error", {}) is None
             or recs[i]["error"]["type"] != kind or recs[i]["status"] != "failed"}
    good_ok = sum(1 for i in good if (recs.get(i) or {}).get("status") == "succeeded")
    dead = await redis.llen(k.dead)
    alive = [w.proc.poll() is None for w in workers]
    report("poison-mix", good=good_n, poison=len(expected) + unreadable, good_succeeded=good_ok,
           lost=good_n - good_ok, stuck=good_n + len(expected) - len(recs),
           wrong_errors=len(wrong), dead=dead, executions=sum(execs), seconds=took,
           workers_alive=alive)
    assert good_ok == good_n
    assert not wrong, list(wrong.items())[:5]
    assert execs == [1] * good_n, "without crashes every good job runs exactly once"
    # unreadable ones, plus the failed ones (their attempts used up) on the dead list
    assert dead == unreadable + len(expected)
    assert all(alive)
