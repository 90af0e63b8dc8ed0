"""The history archiver: moves the jobs that ended from Redis into the SQL history.

Every script that ends a job pushes an entry on `{ns}:archive` (the job's id, its
event count and its final record, so it survives the record's TTL); one worker at a
time (the holder of `{ns}:lock:archiver`) reads the oldest entries in batches, writes
them with upserts (so a batch written twice leaves one row per job), and only then
drops them from the list. While the database is away the list buffers (capped by
`AGENTQ_ARCHIVE_MAX`) and the archiver retries with back-off; it catches up when the
database returns. Webhooks received by the API wait in `{ns}:archive:webhooks` the same
way. Nothing here is on a job's path: the worker's slots never wait for SQL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson

from src.history import History, job_row
from src.history.store import utc
from src.queue.connection import REDIS_DOWN
from src.queue.ops import Ops

log = logging.getLogger("agentq.archiver")

BATCH = 500
_IDLE_S = 0.2
_LOCK_MS = 15_000
_PRUNE_EVERY_S = 3600.0


class Archiver:
    def __init__(self, ops: Ops, history: History, worker_id: str) -> None:
        self.ops = ops
        self.history = history
        self.worker_id = worker_id
        self._next_prune = 0.0
        self._schema_ready = False

    async def run(self, stop: asyncio.Event) -> None:
        """Archive until `stop` is set; a database or Redis outage only delays it."""
        delay = 0.5
        while not stop.is_set():
            try:
                moved = await self.step()
                delay = 0.5
            except REDIS_DOWN as exc:
                log.debug("archiver: Redis unavailable (%s)", exc)
                moved = 0
            except Exception as exc:  # the database: keep the list, try again later
                log.warning("archiver: history database unavailable (%s: %s); retrying in "
                            "%.0fs", type(exc).__name__, exc, delay)
                await _wait(stop, delay)
                delay = min(delay * 2, 30.0)
                continue
            if moved < BATCH:  # let a fuller batch gather: fewer, larger transactions
                await _wait(stop, _IDLE_S)

    async def step(self) -> int:
        """One batch of jobs and webhooks, if this worker holds the archiver lock."""
        if not self._schema_ready:  # an empty database is brought up to date first
            await asyncio.to_thread(self.history.upgrade)
            self._schema_ready = True
        if not await self._hold_lock():
            return 0
        moved = await self._jobs() + await self._webhooks()
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + _PRUNE_EVERY_S
            gone = await asyncio.to_thread(self.history.prune,
                                           self.ops.settings.history_days)
            if gone:
                log.info("archiver: pruned %d jobs older than %g days", gone,
                         self.ops.settings.history_days)
        return moved

    async def _hold_lock(self) -> bool:
        redis, lock = self.ops.redis, self.ops.keys.lock("archiver")
        if await redis.set(lock, self.worker_id, nx=True, px=_LOCK_MS):
            return True
        owner = await redis.get(lock)
        if owner is not None and owner.decode() == self.worker_id:
            await redis.pexpire(lock, _LOCK_MS)
            return True
        return False

    async def _jobs(self) -> int:
        redis, k = self.ops.redis, self.ops.keys
        entries: list[bytes] = await redis.lrange(k.archive, -BATCH, -1)
        if not entries:
            return 0
        rows: dict[str, dict[str, Any]] = {}
        for entry in reversed(entries):  # oldest first: a job's latest end wins
            item = orjson.loads(entry)
            rows[item["id"]] = job_row(item["record"], int(item["events"]))
        await asyncio.to_thread(self.history.archive_jobs, list(rows.values()))
        await self.ops.archive_done(k.archive, entries)
        return len(entries)

    async def _webhooks(self) -> int:
        redis, k = self.ops.redis, self.ops.keys
        entries: list[bytes] = await redis.lrange(k.archive_webhooks, -BATCH, -1)
        if not entries:
            return 0
        rows = {}
        for entry in entries:
            hook = orjson.loads(entry)
            rows[hook["job_id"]] = {"job_id": hook["job_id"], "source": hook["source"],
                                    "received_at": utc(hook["received_at"]),
                                    "headers": hook["headers"], "body": hook.get("body")}
        await asyncio.to_thread(self.history.archive_webhooks, list(rows.values()))
        await self.ops.archive_done(k.archive_webhooks, entries)
        return len(entries)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
