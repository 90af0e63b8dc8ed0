"""The scheduler loop: enqueue the jobs of cron schedules, one per tick across all workers.

Every worker runs this loop for the schedules it knows (`@task(schedule=...)` of its
task modules and `AGENTQ_SCHEDULES`). At a tick each of them enqueues the job through
`Client.enqueue` with the tick's idempotency key, `schedule:{name}:{tick epoch}`: the
enqueue script creates the job once and answers the others with the same job id. The
last enqueued tick of each schedule is kept in `{ns}:schedules` (a sorted set, member the
schedule's name, score the tick: ZADD GT never moves it back), so a worker that starts
knows what was missed and the API can show `last_run`.

Which ticks are enqueued:
- a tick that falls while this loop runs and reaches Redis is enqueued (ticks that a
  stalled loop finds all at once: the newest `BURST_MAX` of them);
- a tick that fell before (no worker ran, or Redis could not be reached) was missed: it
  is skipped, except that a schedule with `catch_up` enqueues the most recent one once.

The wait between passes is bounded: until the next tick or `MAX_WAIT_S`, whichever comes
first, and a stop ends it at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from src.queue import Client
from src.queue.connection import REDIS_DOWN
from src.queue.errors import RedisUnavailable
from src.queue.models import iso
from src.queue.schedules import Schedule, last_runs, mark_run

log = logging.getLogger("agentq.worker")

#: The longest wait between two passes.
MAX_WAIT_S = 1.0
#: Most ticks of one schedule enqueued by one pass (after a stall of the loop).
BURST_MAX = 100


class Scheduler:
    """Runs `schedules` through `client` until `stopping()`; `sleep(s)` wakes on a stop."""

    def __init__(self, client: Client, schedules: Sequence[Schedule],
                 sleep: Callable[[float], Awaitable[None]],
                 stopping: Callable[[], bool]) -> None:
        self.client = client
        self.schedules = list(schedules)
        self.sleep = sleep
        self.stopping = stopping
        self.enqueued = 0  # jobs this process created (the others were there already)
        #: since when this loop has been running and reaching Redis without a break;
        #: None until the next pass that reaches it
        self.live_since: float | None = None
        self._last_pass = 0.0  # the `now` of the last pass that reached Redis
        self._next: dict[str, float] = {}

    async def loop(self) -> None:
        if not self.schedules:
            return
        log.info("scheduler: %d schedule(s): %s", len(self.schedules),
                 ", ".join(f"{s.name} ({s.cron})" for s in self.schedules))
        while not self.stopping():
            now = time.time()
            if self.live_since is None or any(now >= t for t in self._next.values()):
                try:
                    await self.run_pass(now)
                except (*REDIS_DOWN, RedisUnavailable) as exc:
                    log.debug("scheduler: pass skipped (%s)", exc)
                    self.live_since = None  # ticks until it answers again are missed
            await self.sleep(self.wait_s(time.time()))

    def wait_s(self, now: float) -> float:
        if self.live_since is None or not self._next:
            return MAX_WAIT_S
        return max(0.0, min(MAX_WAIT_S, min(self._next.values()) - now))

    async def run_pass(self, now: float) -> None:
        """Enqueue what is due at `now` for every schedule."""
        first = self.live_since is None
        live_since = now if self.live_since is None else self.live_since
        # Ticks up to the previous pass were handled by it: each pass looks at the ticks
        # since then only (the first one at none before `now`).
        after = now - 1e-6 if first else self._last_pass
        last = await last_runs(self.client.redis, self.client.keys,
                               [s.name for s in self.schedules])
        for s in self.schedules:
            try:
                for tick in self.due(s, last[s.name], live_since, after, now):
                    await self.enqueue(s, tick)
            except (*REDIS_DOWN, RedisUnavailable):
                raise
            except Exception:  # one broken schedule must not stop the others, nor the worker
                log.exception("scheduler: %s could not be enqueued; skipping its tick", s.name)
            self._next[s.name] = s.next_after(now)
        self.live_since, self._last_pass = live_since, now

    @staticmethod
    def due(s: Schedule, last: float | None, live_since: float, after: float,
            now: float) -> list[float]:
        """The ticks of `s` to enqueue at `now`, oldest first (see the module's docstring):
        those in (`after`, `now`] not enqueued yet, and with `catch_up` the last one
        missed before `live_since`."""
        out: list[float] = []
        if s.catch_up and last is not None:
            missed = s.last_before(live_since)
            if missed > last:
                out.append(missed)
        return out + s.ticks(after if last is None else max(last, after), now, BURST_MAX)

    async def enqueue(self, s: Schedule, tick: float) -> None:
        job = await self.client.enqueue(
            s.task, s.payload, queue=s.queue, idempotency_key=s.idempotency_key(tick),
            schedule={"name": s.name, "tick": iso(tick) or ""})
        await mark_run(self.client.redis, self.client.keys, s.name, tick)
        if job.created:
            self.enqueued += 1
            log.info("scheduler: %s enqueued job %s for the tick %s", s.name, job.id, iso(tick))
