"""Keeping jobs moving when things go wrong: promotion of due jobs, recovery of dead
workers' jobs, orphaned envelopes, and envelopes that cannot be read."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from src.queue.models import Envelope, Status, error, iso, make_record
from src.queue.ops import Call, Ops, Recovered

from .outcome import describe

log = logging.getLogger("agentq.worker")

_PROMOTE_BATCH = 200


def recover_call(ops: Ops, processing: str, raw: bytes, env: Envelope, *, lost: bool,
                 current: dict[str, Any] | None) -> Call[Recovered]:
    """Move one envelope out of `processing`: the same attempt again (`lost=False`, a
    stopping worker), the next one (its worker died), or the dead list (no attempts left).
    `current` is the job's record as last read; a job that ends keeps what it showed
    (when it started, on which worker, how far it got)."""
    now = time.time()
    base = current or make_record(env, Status.RUNNING)
    cancelled = {**base, "status": Status.CANCELLED.value, "finished_at": iso(now),
                 "error": error("cancelled", "cancelled by request")}
    if not lost:
        queued = make_record(env, Status.QUEUED, attempt=env.attempt - 1,
                             message="put back by a stopping worker")
        return ops.recover(processing, raw, env, dead=False, new_raw=raw, record=queued,
                           cancelled=cancelled)
    if env.attempt < env.max_attempts:
        nxt = env.next_attempt()
        queued = make_record(nxt, Status.QUEUED, attempt=env.attempt,
                             message="recovered from a lost worker",
                             error=error("lost", "the worker running this job stopped"))
        return ops.recover(processing, raw, env, dead=False, new_raw=nxt.dump(), record=queued,
                           cancelled=cancelled)
    failed = {**base, "status": Status.FAILED.value, "finished_at": iso(now),
              "error": error("lost", "the worker running this job stopped and no attempts "
                                     "are left")}
    return ops.recover(processing, raw, env, dead=True, new_raw=raw, record=failed,
                       cancelled=cancelled)


async def parse_or_bury(ops: Ops, source: str, raw: bytes) -> Envelope | None:
    """The envelope, or None after moving an unreadable one from `source` to the dead list
    (failing the record it names, if that record still waits for it)."""
    try:
        return Envelope.model_validate_json(raw)
    except ValueError as exc:
        reason = f"unreadable envelope: {describe(exc)}"
    log.error("%s; moved to the dead list: %.200r", reason, raw)
    job_id = _job_id_of(raw)
    current = await ops.redis.get(ops.keys.job(job_id)) if job_id else None
    rec = _loads_dict(current)
    if rec is None or rec.get("status") not in (Status.QUEUED, Status.SCHEDULED,
                                                Status.RUNNING):
        await ops.bury(source, raw)
        return None
    failed = {**rec, "status": Status.FAILED.value, "finished_at": iso(time.time()),
              "error": error("invalid", reason)}
    await ops.bury(source, raw, job_id=job_id, current=current, failed=failed)
    return None


def _job_id_of(raw: bytes) -> str | None:
    try:
        job_id = orjson.loads(raw)["id"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return job_id if isinstance(job_id, str) and job_id else None


def _loads_dict(raw: bytes | None) -> dict[str, Any] | None:
    try:
        value = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) and "queue" in value else None


class Recovery:
    """The periodic work every worker shares: promote due jobs, recover dead workers'."""

    def __init__(self, ops: Ops, worker_id: str, processing: str) -> None:
        self.ops = ops
        self.worker_id = worker_id
        self.processing = processing
        self._orphans: set[bytes] = set()  # own envelopes not running at the last sweep

    async def promote_due(self) -> None:
        ops, k = self.ops, self.ops.keys
        due = await ops.redis.zrangebyscore(k.scheduled, "-inf", int(time.time() * 1000),
                                            start=0, num=_PROMOTE_BATCH)
        calls = []
        for raw in due:
            if (env := await parse_or_bury(ops, k.scheduled, raw)) is None:
                continue
            calls.append(ops.promote(raw, env, make_record(env, Status.QUEUED,
                                                           attempt=env.attempt - 1)))
        if calls:
            await ops.run_all(calls)

    async def recover_dead_workers(self) -> None:
        ops, k, s = self.ops, self.ops.keys, self.ops.settings
        cutoff = int((time.time() - s.worker_timeout_s) * 1000)
        dead = [w.decode() for w in await ops.redis.zrangebyscore(k.workers, "-inf", cutoff)]
        dead = [w for w in dead if w != self.worker_id]
        if not dead:
            return
        lock = k.lock("recovery")
        if not await ops.redis.set(lock, self.worker_id, nx=True,
                                   px=int(s.worker_timeout_s * 1000)):
            return
        try:
            for worker in dead:
                proc = k.processing(worker)
                raws = await ops.redis.lrange(proc, 0, -1)
                await self.recover(proc, raws, lost=True)
                log.warning("worker %s: recovered %d jobs of dead worker %s", self.worker_id,
                            len(raws), worker)
                if await ops.redis.llen(proc) == 0:
                    async with ops.redis.pipeline(transaction=True) as pipe:
                        pipe.zrem(k.workers, worker)
                        pipe.delete(k.worker(worker))
                        await pipe.execute()
        finally:
            await ops.redis.delete(lock)

    async def recover(self, proc: str, raws: list[bytes], *, lost: bool) -> None:
        """Put the envelopes `raws` of `proc` back (or bury them), reading their records once."""
        parsed = [(raw, await parse_or_bury(self.ops, proc, raw)) for raw in raws]
        envs = [(raw, env) for raw, env in parsed if env is not None]
        if not envs:
            return
        currents = await self.ops.redis.mget([self.ops.keys.job(env.id) for _, env in envs])
        await self.ops.run_all([
            recover_call(self.ops, proc, raw, env, lost=lost, current=_loads_dict(current))
            for (raw, env), current in zip(envs, currents, strict=True)])

    async def sweep_orphans(self, running: set[str]) -> None:
        """Put back envelopes in our own processing list that we are not running.

        They appear when Redis goes away between a claim and its start, or a script ran
        but its answer was lost. One seen on two sweeps in a row (a heartbeat apart) is
        not a claim still being started: it goes back to its queue for the same attempt.
        """
        orphans = {raw for raw in await self.ops.redis.lrange(self.processing, 0, -1)
                   if _job_id_of(raw) not in running}
        again = orphans & self._orphans
        if again:
            log.warning("worker %s: putting back %d envelope(s) it was not running",
                        self.worker_id, len(again))
            await self.recover(self.processing, sorted(again), lost=False)
        self._orphans = orphans - again

    async def sweep_own(self) -> None:
        """Put back every envelope still in our processing list (claimed, not finished)."""
        await self.recover(self.processing, await self.ops.redis.lrange(self.processing, 0, -1),
                           lost=False)
