"""What a queue holds, for operators: counts per queue, live workers, the dead list."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson

from . import histograms
from .errors import atranslate_redis_errors
from .keys import Keys
from .models import Envelope, Status, iso, make_record
from .ops import Ops
from .settings import Settings


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
                pipe.zcard(k.waiting)
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
        return {"queues": queues, "scheduled": res[-3], "waiting": res[-2], "dead": res[-1],
                "workers": len(workers)}

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
