"""The outbox: events of running jobs leave once per tick, all jobs in one round trip.

`ctx.progress` and `ctx.emit` append to their job's pending events and return; every
`TICK_S` the outbox sends every job's pending events (and its latest record, when progress
changed it) in one `progress_many` script call per `BATCH_JOBS` jobs, fenced job by job,
all of them in one round trip. So a job streaming tokens five times a second costs a
fraction of a round trip per event, and a worker holding a thousand such jobs makes about
twenty round trips a second for all of them. A job's pending events go out before its
outcome (the finisher sends them in the same pipeline, ahead of the script that ends the
attempt). A write the fence refuses marks the job's context stale: its next
`progress`/`emit` raises `StaleAttempt`. Events a Redis outage kept from leaving go back
to their jobs, ahead of any newer ones, for the next tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from src.queue.connection import REDIS_DOWN
from src.queue.models import Envelope
from src.queue.ops import Call, Fenced, Ops

log = logging.getLogger("agentq.worker")

#: How long an event may wait for the next flush (seconds).
TICK_S = 0.05
#: The most jobs one script call writes (the server runs nothing else meanwhile).
BATCH_JOBS = 200

#: What a job has to send: its envelope, its record when progress changed it, its events.
Pending = tuple[Envelope, dict[str, Any] | None, list[str]]


class JobContext(Protocol):
    """What the outbox needs of a job's context (`src/worker/context.py`)."""

    @property
    def worker_id(self) -> str: ...
    def take_pending(self) -> Pending | None: ...
    def put_back(self, pending: Pending) -> None: ...
    def take_call(self) -> Call[Fenced] | None: ...
    def settle(self, code: Fenced) -> None: ...


class Outbox:
    def __init__(self, ops: Ops, tick_s: float = TICK_S) -> None:
        self.ops = ops
        self.tick_s = tick_s
        self._dirty: dict[int, JobContext] = {}
        self._unsent: list[tuple[JobContext, Call[Any]]] = []  # refused by a Redis outage
        self._in_flight: asyncio.Future[None] | None = None  # the flush being sent

    def mark(self, ctx: JobContext) -> None:
        """`ctx` has events to send at the next tick."""
        self._dirty[id(ctx)] = ctx

    def take(self, ctxs: list[JobContext]) -> list[tuple[JobContext, Call[Any]]]:
        """The progress calls of these contexts' pending events (emptied)."""
        return [(c, call) for c in ctxs if (call := c.take_call()) is not None]

    def send_later(self, pairs: list[tuple[JobContext, Call[Any]]]) -> None:
        """Calls a Redis outage refused: sent first at the next tick."""
        self._unsent += pairs

    def _batches(self, ctxs: list[JobContext]) -> list[list[tuple[JobContext, Pending]]]:
        """The pending events of `ctxs` (emptied), by worker, `BATCH_JOBS` jobs at most."""
        by_worker: dict[str, list[tuple[JobContext, Pending]]] = {}
        for ctx in ctxs:
            pending = ctx.take_pending()
            if pending is not None:
                by_worker.setdefault(ctx.worker_id, []).append((ctx, pending))
        return [jobs[i:i + BATCH_JOBS] for jobs in by_worker.values()
                for i in range(0, len(jobs), BATCH_JOBS)]

    async def settled(self) -> None:
        """Return once the flush in flight, if any, has been answered: what it carries is
        in Redis before anything sent after this (a job's outcome after its last events)."""
        while (in_flight := self._in_flight) is not None:
            await asyncio.shield(in_flight)

    async def flush(self) -> None:
        """Send every pending event now, in one round trip."""
        dirty, self._dirty = list(self._dirty.values()), {}
        unsent, self._unsent = self._unsent, []
        batches = self._batches(dirty)
        if not batches and not unsent:
            return
        calls: list[Call[Any]] = [call for _, call in unsent]
        calls += [self.ops.progress_many(b[0][0].worker_id, [p for _, p in b]) for b in batches]
        done = self._in_flight = asyncio.get_running_loop().create_future()
        try:
            answers = await self.ops.run_all(calls)
        except REDIS_DOWN as exc:
            log.warning("cannot send %d jobs' events (%s); trying again",
                        len(unsent) + sum(map(len, batches)), exc)
            self._unsent = unsent + self._unsent
            for batch in batches:
                for ctx, pending in batch:
                    ctx.put_back(pending)
                    self.mark(ctx)
            return
        finally:
            self._in_flight = None
            done.set_result(None)
        for (ctx, _), code in zip(unsent, answers, strict=False):
            ctx.settle(code)
        for batch, codes in zip(batches, answers[len(unsent):], strict=True):
            _settle(batch, codes)

    async def loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            await self.flush()


def _settle(batch: Sequence[tuple[JobContext, Pending]], codes: Sequence[Fenced]) -> None:
    for (ctx, _), code in zip(batch, codes, strict=True):
        ctx.settle(code)
