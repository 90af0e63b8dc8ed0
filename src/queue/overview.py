"""What a queue holds, for operators: counts per queue, live workers, the dead list."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson

from . import histograms
from .errors import atranslate_redis_errors
from .keys import Keys
from .models import Envelope, Status, iso, make_record, tenant_of
from .ops import Ops
from .settings import Settings

#: Queued envelopes read, over all queues, to count them by tenant (`Overview.tenants`).
TENANT_SAMPLE = 2000


class Overview:
    """The operator's side of `Client`: `queues`, `workers`, `dead`, `requeue_dead`."""

    redis: Any
    keys: Keys
    settings: Settings
    ops: Ops

    async def _live_workers(self) -> list[tuple[str, float]]:
        cutoff = (time.time() - self.settings.worker_timeout_s) * 1000
        rows = await self.redis.zrangebyscore(self.keys.workers, cutoff, "+inf", withscores=True)
        return [(w.decode(), score) for w, score in rows]

    async def _waiting_lists(self, names: list[str]) -> list[tuple[str, str, str]]:
        """(queue, concurrency key or "", list key) of every list jobs of `names` wait on:
        each queue's own list and its keys' lists (src/queue/lua/claim.lua)."""
        k = self.keys
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.lrange(k.ring(name), 0, -1)
            rings = await pipe.execute()
        out = [(name, "", k.queue(name)) for name in names]
        for name, ring in zip(names, rings, strict=True):
            out += [(name, ck, k.key_queue(name, ck)) for ck in {c.decode() for c in ring} if ck]
        return out

    async def queues(self, *, top_keys: int = 10) -> dict[str, Any]:
        """Counts per queue and overall, shaped like `GET /queues`; `keys`: queued and
        running jobs of the `top_keys` busiest concurrency keys."""
        k = self.keys
        async with atranslate_redis_errors():
            stats = {f.decode(): int(v) for f, v in (await self.redis.hgetall(k.stats)).items()}
            workers = await self._live_workers()
            names = sorted({f.rsplit(":", 1)[0] for f in stats} | {"default"})
            lists = await self._waiting_lists(names)
            async with self.redis.pipeline(transaction=False) as pipe:
                for _, _, key in lists:
                    pipe.llen(key)
                for w, _ in workers:
                    pipe.lrange(k.processing(w), 0, -1)
                pipe.zcard(k.scheduled)
                pipe.zcard(k.waiting)
                pipe.llen(k.dead)
                res = await pipe.execute()
        lengths, processing = res[: len(lists)], res[len(lists): len(lists) + len(workers)]
        queued: dict[str, int] = {}
        by_key: dict[str, list[int]] = {}  # key -> [queued, running]
        for (name, ck, _), n in zip(lists, lengths, strict=True):
            queued[name] = queued.get(name, 0) + n
            if ck:
                by_key.setdefault(ck, [0, 0])[0] += n
        running: dict[str, int] = {}
        for envs in processing:
            for raw in envs:
                try:
                    env = orjson.loads(raw)
                    q, ck = env.get("queue", "default"), env.get("concurrency_key")
                except (orjson.JSONDecodeError, AttributeError):
                    continue
                running[q] = running.get(q, 0) + 1
                if isinstance(ck, str):
                    by_key.setdefault(ck, [0, 0])[1] += 1
        fields = ("enqueued", "succeeded", "failed", "retried", "recovered", "cancelled")
        queues = [
            {"name": name, "queued": queued.get(name, 0), "running": running.get(name, 0),
             **{f: stats.get(f"{name}:{f}", 0) for f in fields}}
            for name in names
        ]
        busiest = sorted(by_key.items(), key=lambda kv: (-sum(kv[1]), kv[0]))[:top_keys]
        return {"queues": queues, "scheduled": res[-3], "waiting": res[-2], "dead": res[-1],
                "workers": len(workers),
                "keys": [{"key": ck, "queued": q, "running": r} for ck, (q, r) in busiest]}

    async def tenants(self, *, top: int = 10, only: str | None = None,
                      sample: int = TENANT_SAMPLE) -> list[dict[str, Any]]:
        """Queued and running jobs per tenant, busiest first: the `top` tenants, or the
        tenant `only` alone (present with zeros when it has none).

        Running counts are exact (the envelopes in the live workers' processing lists).
        Queued counts read at most `sample` envelopes over all queues, the oldest of each
        (the next to run); a queue longer than its share is counted from them in
        proportion, and the rows say `estimated`.
        """
        k = self.keys
        async with atranslate_redis_errors():
            names = sorted({f.decode().rsplit(":", 1)[0] for f in await self.redis.hkeys(k.stats)}
                           | {"default"})
            workers = await self._live_workers()
            lists = [key for _, _, key in await self._waiting_lists(names)]
            share = max(1, sample // len(lists))
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in lists:
                    pipe.llen(key)
                    pipe.lrange(key, -share, -1)
                for w, _ in workers:
                    pipe.lrange(k.processing(w), 0, -1)
                res = await pipe.execute()
        queued: dict[str, float] = {}
        estimated = False
        for length, envs in zip(res[0: 2 * len(lists): 2], res[1: 2 * len(lists): 2],
                                strict=True):
            seen = _count_tenants(envs)
            scale = length / len(envs) if envs else 0.0
            estimated |= len(envs) < length
            for tenant, n in seen.items():
                queued[tenant] = queued.get(tenant, 0) + n * scale
        running: dict[str, int] = {}
        for envs in res[2 * len(lists):]:
            for tenant, n in _count_tenants(envs).items():
                running[tenant] = running.get(tenant, 0) + n
        tenants = queued.keys() | running.keys() if only is None else {only}
        rows: list[dict[str, Any]] = [
            {"tenant": t, "queued": round(queued.get(t, 0)), "running": running.get(t, 0),
             "estimated": estimated}
            for t in tenants
        ]
        rows.sort(key=lambda r: (-(r["queued"] + r["running"]), r["tenant"]))
        return rows[:top]

    async def recent_usage(self, minutes: int = 60,
                           tenant: str | None = None) -> list[dict[str, Any]]:
        """LLM tokens, calls and cost per tenant and model over the last `minutes` (in
        five-minute buckets, so up to five minutes more), most tokens first; `tenant`: that
        tenant's rows only."""
        buckets = histograms.recent_buckets(minutes)
        async with atranslate_redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for bucket in buckets:
                    pipe.hgetall(self.keys.recent(bucket))
                hashes = await pipe.execute()
        rows = histograms.read_recent(hashes)
        return rows if tenant is None else [r for r in rows if r["tenant"] == tenant]

    async def observed(self) -> histograms.Observed:
        """Run-time and queue-wait histograms per task type, and failures by error type."""
        async with atranslate_redis_errors():
            return histograms.read(await self.redis.hgetall(self.keys.metrics))

    async def workers(self) -> list[dict[str, Any]]:
        """Live workers with their current jobs, shaped like `GET /workers` items."""
        async with atranslate_redis_errors():
            live = await self._live_workers()
            if not live:
                return []
            infos = await self.redis.mget([self.keys.worker(w) for w, _ in live])
        out = []
        for (w, score), raw in zip(live, infos, strict=True):
            info = orjson.loads(raw) if raw else {"host": None, "pid": None, "queues": [],
                                                  "concurrency": None, "jobs": []}
            out.append({"id": w, **info, "last_heartbeat": iso(score / 1000)})
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
        """Put dead-lettered jobs (all, or those with the given ids) back, from attempt 1.

        Each goes back at most once however many callers ask at the same time.
        """
        wanted = set(ids) if ids else None
        calls = []
        async with atranslate_redis_errors():
            for raw in await self.redis.lrange(self.keys.dead, 0, limit - 1):
                try:
                    env = Envelope.model_validate_json(raw)
                except ValueError:
                    continue
                if wanted is not None and env.id not in wanted:
                    continue
                fresh = env.next_attempt(1)
                calls.append(self.ops.requeue(raw, fresh, make_record(fresh, Status.QUEUED,
                                                                      attempt=0)))
            if not calls:
                return 0
            return sum(await self.ops.run_all(calls))


def _count_tenants(envelopes: list[bytes]) -> dict[str, int]:
    """How many of these envelopes each tenant has (unreadable ones are skipped)."""
    counts: dict[str, int] = {}
    for raw in envelopes:
        try:
            tenant = tenant_of(orjson.loads(raw))
        except orjson.JSONDecodeError:
            continue
        counts[tenant] = counts.get(tenant, 0) + 1
    return counts
