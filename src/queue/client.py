"""The client: enqueue, read, cancel, retry and wait for jobs (CONTRACT §7b)."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from . import tracing
from .connection import connect
from .control import Control
from .errors import JobConflict, JobNotFound, atranslate_redis_errors
from .fanout import EventHub
from .keys import Keys
from .models import (
    DEFAULT_TENANT,
    TENANT_PATTERN,
    TERMINAL,
    Envelope,
    Status,
    envelope_of,
    error,
    iso,
    make_record,
    new_id,
    tenant_of,
)
from .ops import Cancelled, Ops, Resubmitted
from .overview import Overview
from .registry import Registry, registry
from .settings import Settings, get_settings

_LIST_SCAN_MAX = 5000
_CAS_TRIES = 5


@dataclass(frozen=True, slots=True)
class Enqueued:
    """What `enqueue` returns: the job id, its record, and whether it was created now."""

    id: str
    record: dict[str, Any]
    created: bool = True


def _loads(raw: bytes | str | None) -> Any:
    return None if raw is None else orjson.loads(raw)


_CROCKFORD = {c: i for i, c in enumerate("0123456789ABCDEFGHJKMNPQRSTVWXYZ")}


def _ulid_ms(job_id: str) -> int | None:
    """The milliseconds a ULID was made at (its first 10 characters), or None."""
    try:
        return sum(_CROCKFORD[c] << (5 * (9 - i)) for i, c in enumerate(job_id[:10].upper()))
    except KeyError:
        return None


def _matcher(status: str | None, type: str | None, queue: str | None, since: str | None,
             until: str | None, q: str | None,
             tenant: str | None = None) -> Callable[[dict[str, Any]], bool]:
    needle = q.lower() if q else None

    def match(rec: dict[str, Any]) -> bool:
        if (status and rec["status"] != status) or (type and rec["type"] != type) or (
                queue and rec["queue"] != queue) or (tenant and tenant_of(rec) != tenant):
            return False
        created = rec.get("created_at") or ""
        if (since and created < since) or (until and created >= until):
            return False
        if needle:
            error = rec.get("error") or {}
            text = orjson.dumps(rec.get("payload")).decode().lower()
            return needle in text or needle in (error.get("message") or "").lower()
        return True

    return match


class Client(Overview, Control):
    """An asyncio client of one namespace on one Redis. Safe to share between tasks.

    `tasks` is the registry whose known task types are validated on enqueue (and whose
    `max_attempts` is the default); types it does not know are enqueued as they are.
    """

    def __init__(self, redis: Any, namespace: str = "agentq", settings: Settings | None = None,
                 *, tasks: Registry = registry) -> None:
        self.redis = redis
        self.keys = Keys(namespace)
        self.settings = settings or get_settings()
        self.tasks = tasks
        self.ops = Ops(redis, self.keys, self.settings)
        self._hub: EventHub | None = None

    @classmethod
    def from_url(cls, url: str, namespace: str = "agentq", *, settings: Settings | None = None,
                 cluster: bool | None = None, tasks: Registry = registry, **kw: Any) -> Client:
        settings = settings or get_settings()
        use_cluster = settings.redis_cluster if cluster is None else cluster
        return cls(connect(url, cluster=use_cluster, **kw), namespace, settings, tasks=tasks)

    @classmethod
    def from_env(cls, **kw: Any) -> Client:
        s = get_settings()
        return cls.from_url(s.redis_url, s.namespace, settings=s, **kw)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def hub(self) -> EventHub:
        """The event fan-out of this client (`src/queue/fanout.py`), made on first use:
        `wait` and every follower of this process share its few connections."""
        if self._hub is None:
            self._hub = EventHub(self.redis, self.keys)
        return self._hub

    async def close(self) -> None:
        if self._hub is not None:
            await self._hub.close()
        await self.redis.aclose()

    async def ping(self) -> bool:
        async with atranslate_redis_errors():
            return bool(await self.redis.ping())

    # -- enqueue ----------------------------------------------------------------

    def _prepare(
        self, type: str, payload: Any, *, queue: str = "default", max_attempts: int | None = None,
        timeout_s: float | None = None, delay_s: float = 0, idempotency_key: str | None = None,
        callback_url: str | None = None, job_id: str | None = None,
        traceparent: str | None = None, tenant: str | None = None,
        schedule: dict[str, str] | None = None, concurrency_key: str | None = None,
        max_tokens: int | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        payload = {} if payload is None else payload
        if tenant is not None and not TENANT_PATTERN.fullmatch(tenant):
            raise ValueError("tenant: 1 to 64 characters, without ':' or spaces")
        if type in self.tasks:
            self.tasks.validate(type, payload)  # InvalidPayload names the field
        now = time.time()
        env = Envelope(
            id=job_id or new_id(), type=type, queue=queue, payload=payload, attempt=1,
            max_attempts=max_attempts or self.tasks.defaults_for(type)[0], timeout_s=timeout_s,
            enqueued_at=now, callback_url=callback_url,
            traceparent=traceparent or tracing.current_traceparent(),
            # the default tenant is the absence of the field (records as before tenants)
            tenant=None if tenant == DEFAULT_TENANT else tenant, schedule=schedule,
            # fair shares between tenants by default; the default tenant's jobs share the
            # queue's own list, which takes its turn like a key
            concurrency_key=concurrency_key or (None if tenant == DEFAULT_TENANT else tenant),
            max_tokens=max_tokens,
        )
        due_ms = int((now + delay_s) * 1000) if delay_s > 0 else 0
        record = make_record(env, Status.SCHEDULED if due_ms else Status.QUEUED, attempt=0)
        limit = self.tasks.key_limit(type, self.settings.key_concurrency)
        return self.ops.enqueue(env, record, due_ms=due_ms, idempotency_key=idempotency_key,
                                key_limit=limit), record

    async def enqueue(self, type: str, payload: Any = None, **options: Any) -> Enqueued:
        """Enqueue one job in one round trip; see CONTRACT §7b for the options.

        `traceparent` (W3C) names the trace the job's spans join; by default the current
        span's, when the caller runs inside one. `tenant` names the tenant the job belongs
        to (None: the default tenant); idempotency keys are per tenant.
        Raises `InvalidPayload` when a task known here refuses the payload.
        """
        call, record = self._prepare(type, payload, **options)
        async with atranslate_redis_errors():
            return await self._enqueued(await call, record)

    async def enqueue_many(self, jobs: Iterable[Mapping[str, Any]], *,
                           tenant: str | None = None) -> list[Enqueued]:
        """Enqueue a batch in one round trip. Each item: {type, payload, **options};
        `tenant` is every item's that names none."""
        prepared = []
        for spec in jobs:
            spec = dict(spec)
            spec.setdefault("tenant", tenant)
            prepared.append(self._prepare(spec.pop("type"), spec.pop("payload", None), **spec))
        async with atranslate_redis_errors():
            results = await self.ops.run_all([call for call, _ in prepared])
            return [await self._enqueued(r, rec) for r, (_, rec) in zip(results, prepared,
                                                                         strict=True)]

    async def _enqueued(self, result: Any, record: dict[str, Any]) -> Enqueued:
        if result.created:
            return Enqueued(record["id"], record, True)
        existing = await self.get(result.job_id)
        return Enqueued(result.job_id, existing or record, False)

    # -- read -------------------------------------------------------------------

    async def get(self, job_id: str) -> dict[str, Any] | None:
        """The job's record (CONTRACT §3), or None when unknown or expired."""
        async with atranslate_redis_errors():
            rec: dict[str, Any] | None = _loads(await self.redis.get(self.keys.job(job_id)))
            return rec

    async def _get_raw(self, job_id: str) -> tuple[bytes, dict[str, Any]]:
        raw = await self.redis.get(self.keys.job(job_id))
        if raw is None:
            raise JobNotFound(job_id)
        return raw, orjson.loads(raw)

    async def list(
        self, status: str | None = None, type: str | None = None, queue: str | None = None,
        limit: int = 50, before: str | None = None, *, since: str | None = None,
        until: str | None = None, q: str | None = None, tenant: str | None = None,
    ) -> tuple[builtins.list[dict[str, Any]], str | None]:
        """Jobs newest first, filtered, paged by `before` (a job id). Scans a bounded window.

        `since`/`until` bound the creation time (ISO, as records show it), `q` is text to
        find in the payload or the error message (case-insensitive), `tenant` keeps only
        that tenant's jobs (None: every tenant's).
        """
        k = self.keys
        match = _matcher(status, type, queue, since, until, q, tenant)
        out: builtins.list[dict[str, Any]] = []
        async with atranslate_redis_errors():
            start = 0
            if before:
                rank = await self.redis.zrevrank(k.jobs, before)
                if rank is not None:
                    start = rank + 1
                elif (ms := _ulid_ms(before)) is not None:  # an id the index no longer has
                    start = await self.redis.zcount(k.jobs, f"({ms}", "+inf")
                else:
                    return [], None
            scanned, chunk, last = 0, max(limit * 2, 100), None
            while scanned < _LIST_SCAN_MAX:
                ids = [i.decode() for i in await self.redis.zrevrange(k.jobs, start,
                                                                       start + chunk - 1)]
                if not ids:
                    return out, None
                for job_id, raw in zip(ids, await self.redis.mget([k.job(i) for i in ids]),
                                       strict=True):
                    scanned += 1
                    last = job_id
                    rec = _loads(raw)
                    if rec is None or (before and job_id >= before) or not match(rec):
                        continue
                    out.append(rec)
                    if len(out) == limit:
                        return out, job_id
                start += len(ids)
            return out, last

    async def events(
        self, job_id: str, after: str = "0-0", block_ms: int | None = None, count: int = 100,
    ) -> builtins.list[tuple[str, dict[str, Any]]]:  # `list` here is the method above
        """Events of a job after the stream id `after`; blocks up to `block_ms` for new ones."""
        key = self.keys.events(job_id)
        async with atranslate_redis_errors():
            if block_ms is None:
                rows = await self.redis.xrange(key, min=f"({after}" if after != "0-0" else "-",
                                               count=count)
            else:
                res = await self.redis.xread({key: after}, count=count, block=block_ms)
                rows = res[0][1] if res else []
        return [(i.decode(), orjson.loads(f[b"d"])) for i, f in rows]

    async def wait(self, job_id: str, timeout_s: float = 30) -> dict[str, Any] | None:
        """The record once the job is terminal, or the latest record when `timeout_s` passes.

        It follows the job's events through `hub` (no connection of its own) and reads the
        record again when one arrives, or at least every second.
        """
        deadline = time.monotonic() + timeout_s
        rec = await self.get(job_id)
        if rec is None or rec["status"] in TERMINAL or timeout_s <= 0:
            return rec
        async with self.hub.subscribe(job_id, after=None) as sub:
            while True:
                rec = await self.get(job_id)
                left = deadline - time.monotonic()
                if rec is None or rec["status"] in TERMINAL or left <= 0:
                    return rec
                await sub.next(min(left, 1.0))

    # -- control ----------------------------------------------------------------

    async def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a job: queued or scheduled at once, running within a heartbeat."""
        async with atranslate_redis_errors():
            for _ in range(_CAS_TRIES):
                raw, rec = await self._get_raw(job_id)
                if rec["status"] in TERMINAL:
                    raise JobConflict(job_id, rec["status"], "cancel")
                cancelled = {**rec, "status": Status.CANCELLED.value,
                             "finished_at": iso(time.time()),
                             "error": error("cancelled", "cancelled by request")}
                code = await self.ops.cancel(raw, rec, cancelled)
                if code is Cancelled.NOW:
                    return cancelled
                if code is Cancelled.REQUESTED:
                    return rec
                if code is Cancelled.NO_RECORD:
                    raise JobNotFound(job_id)
                # FINISHED or CHANGED: read again to report the state it is in now
            raise JobConflict(job_id, rec["status"], "cancel")

    async def retry(self, job_id: str) -> dict[str, Any]:
        """Run a failed or cancelled job again from attempt 1, with the options it had.

        Of several retries sent at once exactly one starts it: the others get `JobConflict`.
        """
        async with atranslate_redis_errors():
            raw, rec = await self._get_raw(job_id)
            if rec["status"] not in (Status.FAILED, Status.CANCELLED):
                raise JobConflict(job_id, rec["status"], "retry")
            env = envelope_of(rec)
            queued = make_record(env, Status.QUEUED, attempt=0)
            code = await self.ops.resubmit(raw, queued, env)
            if code is Resubmitted.QUEUED:
                return queued
            if code is Resubmitted.NO_RECORD:
                raise JobNotFound(job_id)
            current = await self.get(job_id)
            raise JobConflict(job_id, (current or rec)["status"], "retry (it was just retried)"
                              if code is Resubmitted.CHANGED else "retry")


__all__ = ["Client", "Enqueued"]
