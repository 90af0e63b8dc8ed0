"""The outbox: events of running jobs leave once per tick, all jobs in one pipeline.

`ctx.progress` and `ctx.emit` append to their job's pending events and return; every
`TICK_S` the outbox sends each job's pending events (and its latest record, when progress
changed it) as one fenced `progress` call, all jobs together in one round trip. So a job
streaming tokens five times a second costs a fraction of a round trip per event, and a
worker holding a thousand such jobs makes about twenty round trips a second for all of
them. A job's pending events go out before its outcome (the finisher sends them in the
same pipeline, ahead of the script that ends the attempt). A write the fence refuses
marks the job's context stale: its next `progress`/`emit` raises `StaleAttempt`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from src.queue.connection import REDIS_DOWN
from src.queue.ops import Call, Fenced, Ops

log = logging.getLogger("agentq.worker")

#: How long an event may wait for the next flush (seconds).
TICK_S = 0.05


class JobContext(Protocol):
    """What the outbox needs of a job's context (`src/worker/context.py`)."""

    def take_call(self, early: bool = False) -> Call[Fenced] | None: ...
    def settle(self, code: Fenced) -> None: ...


class Outbox:
    def __init__(self, ops: Ops, tick_s: float = TICK_S) -> None:
        self.ops = ops
        self.tick_s = tick_s
        self._dirty: dict[int, JobContext] = {}
        self._unsent: list[tuple[JobContext, Call[Any]]] = []  # refused by a Redis outage

    def mark(self, ctx: JobContext) -> None:
        """`ctx` has events to send at the next tick."""
        self._dirty[id(ctx)] = ctx

    def take(self, ctxs: list[JobContext],
             early: bool = False) -> list[tuple[JobContext, Call[Any]]]:
        """The progress calls of these contexts' pending events (emptied); `early` also
        takes those of jobs whose start is not written yet (it goes first, in the same
        round trip)."""
        return [(c, call) for c in ctxs if (call := c.take_call(early)) is not None]

    def send_later(self, pairs: list[tuple[JobContext, Call[Any]]]) -> None:
        """Calls a Redis outage refused: sent first at the next tick."""
        self._unsent += pairs

    async def flush(self) -> None:
        """Send every pending event now, in one round trip."""
        dirty, self._dirty = list(self._dirty.values()), {}
        pairs, self._unsent = self._unsent + self.take(dirty), []
        if not pairs:
            return
        try:
            codes = await self.ops.run_all([call for _, call in pairs])
        except REDIS_DOWN as exc:
            log.warning("cannot send %d jobs' events (%s); trying again", len(pairs), exc)
            self._unsent = pairs
            return
        for (ctx, _), code in zip(pairs, codes, strict=True):
            ctx.settle(code)

    async def loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            await self.flush()
