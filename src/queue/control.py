"""People in the loop of an agent: signals to waiting jobs, their steps, and replay.

A task that calls `ctx.wait_for(name)` before the signal came is parked (`waiting`, see
`lua/suspend.lua`); `signal` stores the signal and, when the job waits for exactly that
one, puts it back on its queue in the same step (`lua/signal.lua`). A wait that runs out
is ended the same way with the body `WAIT_TIMEOUT` (`wake_due`, run by every worker).
`replay` makes a new job whose steps before a given one are copied from the original.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from .errors import JobConflict, JobNotFound, atranslate_redis_errors
from .keys import Keys
from .models import Status, envelope_of, event, iso, make_record, new_id
from .ops import STEP_ORDER, WAIT_TIMEOUT, Ops, Signalled
from .registry import Registry
from .settings import Settings

_CAS_TRIES = 5
#: Waits ended per call of `wake_due`.
WAKE_BATCH = 100


def waits_for(record: dict[str, Any], name: str) -> bool:
    """Whether `record` is a job parked until signal `name`."""
    waiting_for = record.get("waiting_for") or {}
    return record.get("status") == Status.WAITING and waiting_for.get("name") == name


def resumed(record: dict[str, Any], message: str) -> dict[str, Any]:
    """The `queued` record of a waiting job that goes back to its queue."""
    out = {k: v for k, v in record.items() if k != "waiting_for"}
    out.update(status=Status.QUEUED.value, message=message)
    return out


async def deliver(ops: Ops, job_id: str, name: str, body: bytes, *,
                  due_only: bool = False) -> tuple[Signalled, dict[str, Any] | None]:
    """Store signal `name` (`body`, JSON bytes) for the job and resume it if it waits for it.

    With `due_only` (the end of a wait), nothing is stored unless the job still waits for
    `name` and its wait has run out. Returns the outcome and the record as it is now.
    """
    rec: dict[str, Any] | None = None
    for _ in range(_CAS_TRIES):
        raw = await ops.redis.get(ops.keys.job(job_id))
        if raw is None:
            return Signalled.NO_RECORD, None
        rec = orjson.loads(raw)
        assert rec is not None
        waiting = waits_for(rec, name)
        if due_only and not (waiting and rec["waiting_for"]["until"] <= iso(time.time())):
            return Signalled.STORED, rec
        signal_event = event("signal", name=name, timeout=True) if body == WAIT_TIMEOUT \
            else event("signal", name=name)
        if waiting:
            message = f"wait for {name} ran out" if body == WAIT_TIMEOUT else \
                f"signal {name} received"
            queued = resumed(rec, message)
            code = await ops.signal(rec, name, body, signal_event, raw=raw, queued=queued)
            if code is Signalled.RESUMED:
                return code, queued
        else:
            code = await ops.signal(rec, name, body, signal_event)
        if code is not Signalled.CHANGED:
            return code, rec
    return Signalled.CHANGED, rec


async def wake_due(ops: Ops, limit: int = WAKE_BATCH) -> int:
    """End the waits that ran out: each job resumes and its `wait_for` raises WaitTimeout."""
    k, now_ms = ops.keys, int(time.time() * 1000)
    due = await ops.redis.zrangebyscore(k.waiting, "-inf", now_ms, start=0, num=limit)
    woken = 0
    for raw_id in due:
        job_id = raw_id.decode()
        rec = orjson.loads(await ops.redis.get(k.job(job_id)) or b"null")
        if rec is None or rec.get("status") != Status.WAITING:  # ended or expired meanwhile
            async with ops.redis.pipeline(transaction=True) as pipe:
                pipe.zrem(k.waiting, job_id).hdel(k.waiting_envelopes, job_id)
                await pipe.execute()
            continue
        code, _ = await deliver(ops, job_id, rec["waiting_for"]["name"], WAIT_TIMEOUT,
                                due_only=True)
        woken += code is Signalled.RESUMED
    return woken


def step_order(steps: dict[bytes, bytes]) -> list[str]:
    """The names of a job's stored steps, in the order they first completed."""
    order = steps.get(STEP_ORDER.encode())
    if order is not None:
        return order.decode().split("\n")
    return sorted(k.decode() for k in steps if k != STEP_ORDER.encode())  # written before order


class Control:
    """The agent-control side of `Client`: `signal`, `steps`, `replay`."""

    redis: Any
    keys: Keys
    settings: Settings
    ops: Ops
    tasks: Registry

    async def signal(self, job_id: str, name: str, data: Any = None) -> dict[str, Any]:
        """Send signal `name` with JSON `data` to a job; returns its record as it is now.

        A job waiting for it goes back to its queue; any other non-terminal job keeps the
        signal for its next `wait_for(name)`. Raises `JobNotFound`, or `JobConflict` for a
        job that has ended.
        """
        async with atranslate_redis_errors():
            code, rec = await deliver(self.ops, job_id, name, orjson.dumps(data))
        if code is Signalled.NO_RECORD or rec is None:
            raise JobNotFound(job_id)
        if code is Signalled.ENDED:
            raise JobConflict(job_id, rec["status"], f"signal {name!r} to")
        if code is Signalled.CHANGED:
            raise JobConflict(job_id, rec["status"], f"signal {name!r} to (it keeps changing)")
        return rec

    async def steps(self, job_id: str) -> list[dict[str, Any]]:
        """The job's stored steps in the order they completed: [{name, result}]."""
        async with atranslate_redis_errors():
            stored = await self.redis.hgetall(self.keys.steps(job_id))
        return [{"name": n, "result": orjson.loads(stored[n.encode()])}
                for n in step_order(stored) if n.encode() in stored]

    async def replay(self, job_id: str, from_step: str | None, payload: Any = None,
                     *, has_payload: bool = False) -> dict[str, Any]:
        """A new job running the same task again from step `from_step`: the steps the
        original completed before it are copied, so they are not run again (None: every step
        runs again); `payload` replaces the original's when `has_payload`. The original is
        left as it is.

        Raises `JobNotFound`, or `LookupError` when `from_step` is not a stored step.
        """
        async with atranslate_redis_errors():
            rec = orjson.loads(await self.redis.get(self.keys.job(job_id)) or b"null")
            if rec is None:
                raise JobNotFound(job_id)
            stored = await self.redis.hgetall(self.keys.steps(job_id))
            order = step_order(stored)
            if from_step is not None and from_step not in order:
                raise LookupError(from_step)
            keep = order[:order.index(from_step)] if from_step is not None else []
            env = envelope_of(rec).model_copy(update={
                "id": new_id(), "replay_of": job_id, "enqueued_at": time.time(),
                "created_at": None, "payload": payload if has_payload else rec["payload"]})
            if env.type in self.tasks:
                self.tasks.validate(env.type, env.payload)
            if keep:
                key = self.keys.steps(env.id)
                fields = {n: stored[n.encode()] for n in keep}
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.hset(key, mapping={**fields, STEP_ORDER: "\n".join(keep)})
                    pipe.expire(key, self.settings.job_ttl_s)
                    await pipe.execute()
            record = make_record(env, Status.QUEUED, attempt=0)
            await self.ops.enqueue(env, record)
        return record


__all__ = ["Control", "deliver", "resumed", "step_order", "wake_due", "waits_for"]
