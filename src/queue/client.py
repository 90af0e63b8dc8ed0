"""The client: enqueue, read, cancel, retry and wait for jobs (CONTRACT §7b)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson

from . import scripts
from .connection import connect
from .errors import JobConflict, JobNotFound, ScriptError, atranslate_redis_errors
from .keys import Keys
from .models import TERMINAL, Envelope, Status, dumps, event, iso, make_record, new_id, status_event
from .scripts import Code
from .settings import Settings, get_settings

T = TypeVar("T")

EVENTS_MAX = 1000
_LIST_SCAN_MAX = 5000
DEFAULT_MAX_ATTEMPTS = 3

#: task name -> (max_attempts, timeout_s) declared by `@task` in this process; enqueue uses
#: them when the caller does not say (a task unknown here gets 3 attempts and, in the
#: worker, its own timeout).
TASK_DEFAULTS: dict[str, tuple[int, float]] = {}


@dataclass(frozen=True, slots=True)
class Enqueued:
    """What `enqueue` returns: the job id, its record, and whether it was created now."""

    id: str
    record: dict[str, Any]
    created: bool = True


def _loads(raw: bytes | str | None) -> Any:
    return None if raw is None else orjson.loads(raw)


class Client:
    """An asyncio client of one namespace on one Redis. Safe to share between tasks."""

    def __init__(self, redis: Any, namespace: str = "agentq", settings: Settings | None = None):
        self.redis = redis
        self.keys = Keys(namespace)
        self.settings = settings or get_settings()

    @classmethod
    def from_url(cls, url: str, namespace: str = "agentq", *, settings: Settings | None = None,
                 cluster: bool | None = None, **kw: Any) -> Client:
        settings = settings or get_settings()
        use_cluster = settings.redis_cluster if cluster is None else cluster
        return cls(connect(url, cluster=use_cluster, **kw), namespace, settings)

    @classmethod
    def from_env(cls, **kw: Any) -> Client:
        s = get_settings()
        return cls.from_url(s.redis_url, s.namespace, settings=s, **kw)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.redis.aclose()

    async def ping(self) -> bool:
        async with atranslate_redis_errors():
            return bool(await self.redis.ping())

    # -- enqueue ----------------------------------------------------------------

    def _enqueue_call(
        self, type: str, payload: Any, *, queue: str = "default", max_attempts: int | None = None,
        timeout_s: float | None = None, delay_s: float = 0, idempotency_key: str | None = None,
        callback_url: str | None = None, job_id: str | None = None,
    ) -> tuple[tuple[str, list[str], list[Any]], dict[str, Any]]:
        now = time.time()
        if max_attempts is None:
            max_attempts = TASK_DEFAULTS.get(type, (DEFAULT_MAX_ATTEMPTS, 0))[0]
        env = Envelope(
            id=job_id or new_id(), type=type, queue=queue, payload=payload, attempt=1,
            max_attempts=max_attempts, timeout_s=timeout_s, enqueued_at=now,
            callback_url=callback_url,
        )
        delayed = delay_s > 0
        record = make_record(env, Status.SCHEDULED if delayed else Status.QUEUED, attempt=0)
        k = self.keys
        call = (
            "enqueue",
            [k.job(env.id), k.scheduled if delayed else k.queue(queue), k.jobs,
             k.idem(idempotency_key or ""), k.stats],
            [env.id, dumps(record), env.dump(), self.settings.job_ttl_s, int(now * 1000),
             int((now + delay_s) * 1000) if delayed else 0, self.settings.jobs_index_max,
             f"{queue}:enqueued", 1 if idempotency_key else 0],
        )
        return call, record

    async def enqueue(self, type: str, payload: Any = None, **options: Any) -> Enqueued:
        """Enqueue one job in one round trip; see CONTRACT §7b for the options."""
        call, record = self._enqueue_call(type, {} if payload is None else payload, **options)
        async with atranslate_redis_errors():
            created, job_id = await scripts.run(self.redis, *call)
            return await self._enqueued(created, job_id, record)

    async def enqueue_many(self, jobs: Iterable[Mapping[str, Any]]) -> list[Enqueued]:
        """Enqueue a batch in one round trip. Each item: {type, payload, **options}."""
        prepared = []
        for spec in jobs:
            spec = dict(spec)
            prepared.append(self._enqueue_call(spec.pop("type"), spec.pop("payload", {}), **spec))
        async with atranslate_redis_errors():
            results = await scripts.run_many(self.redis, [call for call, _ in prepared])
            return [await self._enqueued(c, i, rec)
                    for (c, i), (_, rec) in zip(results, prepared, strict=True)]

    async def _enqueued(self, created: int, job_id: bytes | str, record: dict[str, Any]) -> Enqueued:
        if created:
            return Enqueued(record["id"], record, True)
        job_id = job_id.decode() if isinstance(job_id, bytes) else job_id
        existing = await self.get(job_id)
        return Enqueued(job_id, existing or record, False)

    # -- read -------------------------------------------------------------------

    async def get(self, job_id: str) -> dict[str, Any] | None:
        """The job's record (CONTRACT §3), or None when unknown or expired."""
        async with atranslate_redis_errors():
            return _loads(await self.redis.get(self.keys.job(job_id)))

    async def _get_raw(self, job_id: str) -> tuple[bytes, dict[str, Any]]:
        raw = await self.redis.get(self.keys.job(job_id))
        if raw is None:
            raise JobNotFound(job_id)
        return raw, orjson.loads(raw)

    async def list(
        self, status: str | None = None, type: str | None = None, queue: str | None = None,
        limit: int = 50, before: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Jobs newest first, filtered, paged by `before` (a job id). Scans a bounded window."""
        k = self.keys
        out: list[dict[str, Any]] = []
        async with atranslate_redis_errors():
            start = 0
            if before:
                rank = await self.redis.zrevrank(k.jobs, before)
                if rank is None:
                    return [], None
                start = rank + 1
            scanned, chunk, last = 0, max(limit * 2, 100), None
            while scanned < _LIST_SCAN_MAX:
                ids = [i.decode() for i in await self.redis.zrevrange(k.jobs, start, start + chunk - 1)]
                if not ids:
                    return out, None
                raws = await self.redis.mget([k.job(i) for i in ids])
                for job_id, raw in zip(ids, raws, strict=True):
                    scanned += 1
                    last = job_id
                    if raw is None:
                        continue
                    rec = orjson.loads(raw)
                    if ((status and rec["status"] != status) or (type and rec["type"] != type)
                            or (queue and rec["queue"] != queue)):
                        continue
                    out.append(rec)
                    if len(out) == limit:
                        return out, job_id
                start += len(ids)
            return out, last

    async def events(
        self, job_id: str, after: str = "0-0", block_ms: int | None = None, count: int = 100,
    ) -> list[tuple[str, dict[str, Any]]]:
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
        """The record once the job is terminal, or the latest record when `timeout_s` passes."""
        deadline = time.monotonic() + timeout_s
        last_event = "$"
        while True:
            rec = await self.get(job_id)
            left = deadline - time.monotonic()
            if rec is None or rec["status"] in TERMINAL or left <= 0:
                return rec
            if last_event == "$":
                async with atranslate_redis_errors():
                    last = await self.redis.xrevrange(self.keys.events(job_id), count=1)
                last_event = last[0][0].decode() if last else "0-0"
            evs = await self.events(job_id, after=last_event, block_ms=max(1, int(min(left, 1.0) * 1000)))
            if evs:
                last_event = evs[-1][0]

    # -- control ----------------------------------------------------------------

    async def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a job: queued or scheduled at once, running within a heartbeat."""
        k, s = self.keys, self.settings
        async with atranslate_redis_errors():
            for _ in range(5):
                raw, rec = await self._get_raw(job_id)
                if rec["status"] in TERMINAL:
                    raise JobConflict(job_id, rec["status"], "cancel")
                cancelled = {**rec, "status": Status.CANCELLED.value,
                             "finished_at": _now_iso(),
                             "error": {"type": "cancelled", "message": "cancelled by request"}}
                code = await scripts.run(self.redis, "cancel",
                    [k.job(job_id), k.cancel(job_id), k.events(job_id), k.stats],
                    [raw, dumps(cancelled), s.job_ttl_s, s.result_ttl_s, status_event(cancelled),
                     EVENTS_MAX, f"{rec['queue']}:cancelled"])
                if code == Code.OK:
                    return cancelled
                if code == 2:
                    return rec
                if code == Code.NOT_FOUND:
                    raise JobNotFound(job_id)
                if code == Code.FINISHED:
                    continue  # re-read to report the final status
                if code != Code.CHANGED:
                    raise ScriptError(f"cancel answered {code}")
            raise JobConflict(job_id, rec["status"], "cancel")

    async def retry(self, job_id: str) -> dict[str, Any]:
        """Run a failed or cancelled job again, from attempt 1."""
        k, s = self.keys, self.settings
        async with atranslate_redis_errors():
            for _ in range(5):
                raw, rec = await self._get_raw(job_id)
                if rec["status"] not in (Status.FAILED, Status.CANCELLED):
                    raise JobConflict(job_id, rec["status"], "retry")
                env = Envelope(id=job_id, type=rec["type"], queue=rec["queue"],
                               payload=rec["payload"], attempt=1,
                               max_attempts=rec.get("max_attempts") or 1,
                               created_at=_parse_iso(rec.get("created_at")))
                queued = make_record(env, Status.QUEUED, attempt=0)
                code = await scripts.run(self.redis, "resubmit",
                    [k.job(job_id), k.cancel(job_id), k.queue(env.queue), k.events(job_id), k.stats],
                    [raw, dumps(queued), env.dump(), s.job_ttl_s, status_event(queued), EVENTS_MAX,
                     f"{env.queue}:enqueued"])
                if code == Code.OK:
                    return queued
                if code == Code.NOT_FOUND:
                    raise JobNotFound(job_id)
            raise JobConflict(job_id, rec["status"], "retry")

    # -- overview ---------------------------------------------------------------

    async def _live_workers(self) -> list[tuple[str, float]]:
        cutoff = (time.time() - self.settings.worker_timeout_s) * 1000
        rows = await self.redis.zrangebyscore(self.keys.workers, cutoff, "+inf", withscores=True)
        return [(w.decode(), score) for w, score in rows]

    async def queues(self) -> dict[str, Any]:
        """Counts per queue and overall, shaped like `GET /queues`."""
        k = self.keys
        async with atranslate_redis_errors():
            stats = {f.decode(): int(v) for f, v in (await self.redis.hgetall(k.stats)).items()}
            workers = await self._live_workers()
            names = sorted({f.rsplit(":", 1)[0] for f in stats} | {"default"})
            async with self.redis.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.llen(k.queue(name))
                for w, _ in workers:
                    pipe.lrange(k.processing(w), 0, -1)
                pipe.zcard(k.scheduled)
                pipe.llen(k.dead)
                res = await pipe.execute()
        lengths, processing = res[: len(names)], res[len(names): len(names) + len(workers)]
        running: dict[str, int] = {}
        for envs in processing:
            for raw in envs:
                try:
                    q = orjson.loads(raw).get("queue", "default")
                except (orjson.JSONDecodeError, AttributeError):
                    continue
                running[q] = running.get(q, 0) + 1
        fields = ("enqueued", "succeeded", "failed", "retried", "recovered", "cancelled")
        queues = [
            {"name": name, "queued": n, "running": running.get(name, 0),
             **{f: stats.get(f"{name}:{f}", 0) for f in fields}}
            for name, n in zip(names, lengths, strict=True)
        ]
        return {"queues": queues, "scheduled": res[-2], "dead": res[-1], "workers": len(workers)}

    async def workers(self) -> list[dict[str, Any]]:
        """Live workers with their current jobs, shaped like `GET /workers` items."""
        async with atranslate_redis_errors():
            live = await self._live_workers()
            if not live:
                return []
            infos = await self.redis.mget([self.keys.worker(w) for w, _ in live])
        out = []
        for (w, score), raw in zip(live, infos, strict=True):
            info = _loads(raw) or {"host": None, "pid": None, "queues": [], "concurrency": None,
                                   "jobs": []}
            out.append({"id": w, **info, "last_heartbeat": _iso_ms(score)})
        return out

    async def dead(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest dead-lettered envelopes (unreadable ones as {"raw": text})."""
        async with atranslate_redis_errors():
            rows = await self.redis.lrange(self.keys.dead, 0, limit - 1)
        out = []
        for raw in rows:
            try:
                out.append(orjson.loads(raw))
            except orjson.JSONDecodeError:
                out.append({"raw": raw.decode(errors="replace")})
        return out

    async def requeue_dead(self, ids: Sequence[str] | None = None, limit: int = 1000) -> int:
        """Put dead-lettered jobs (all, or those with the given ids) back, from attempt 1."""
        k, s = self.keys, self.settings
        wanted = set(ids) if ids else None
        moved = 0
        async with atranslate_redis_errors():
            for raw in await self.redis.lrange(k.dead, 0, limit - 1):
                try:
                    env = Envelope.model_validate_json(raw)
                except ValueError:
                    continue
                if wanted is not None and env.id not in wanted:
                    continue
                fresh = env.next_attempt(1)
                queued = make_record(fresh, Status.QUEUED, attempt=0)
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.lrem(k.dead, 1, raw)
                    pipe.set(k.job(env.id), dumps(queued), ex=s.job_ttl_s)
                    pipe.delete(k.cancel(env.id))
                    pipe.lpush(k.queue(env.queue), fresh.dump())
                    removed, *_ = await pipe.execute()
                moved += int(removed)
        return moved


def _now_iso() -> str:
    return iso(time.time()) or ""


def _iso_ms(ms: float) -> str:
    return iso(ms / 1000) or ""


def _parse_iso(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class SyncClient:
    """The same client for synchronous code (Django, Flask, scripts).

    It runs one `Client` on a private event loop in a daemon thread, so behaviour is the
    asyncio client's, call for call.
    """

    def __init__(self, client_factory: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="agentq-sync", daemon=True)
        self._thread.start()
        self._client: Client = self._call(_make(client_factory))

    @classmethod
    def from_url(cls, url: str, namespace: str = "agentq", **kw: Any) -> SyncClient:
        return cls(lambda: Client.from_url(url, namespace, **kw))

    @classmethod
    def from_env(cls, **kw: Any) -> SyncClient:
        return cls(lambda: Client.from_env(**kw))

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not asyncio.iscoroutinefunction(attr):
            return attr
        return lambda *a, **kw: self._call(attr(*a, **kw))

    def close(self) -> None:
        try:
            self._call(self._client.close(), timeout=5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _make(factory: Any) -> Client:
    return factory()


__all__ = ["Client", "SyncClient", "Enqueued", "EVENTS_MAX", "event"]
