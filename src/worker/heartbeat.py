"""Liveness: the heartbeat (which also reads cancel requests), the watchdog for attempts
that ignore their timeout, and the stall detector for a blocked event loop."""

from __future__ import annotations

import faulthandler
import logging
import os
import socket
import threading
import time
from collections.abc import Mapping, Sequence

from src.queue.models import dumps, error
from src.queue.ops import Ops

from .outcome import Outcome, Running

log = logging.getLogger("agentq.worker")

_WATCHDOG_MIN_MARGIN_S = 1.0


async def beat(ops: Ops, worker_id: str, queues: Sequence[str], concurrency: int,
               active: Mapping[str, Running]) -> list[str]:
    """One heartbeat: say we live and what we run; the ids of our jobs asked to cancel."""
    k, s = ops.keys, ops.settings
    ids = list(active)
    info = {"host": socket.gethostname(), "pid": os.getpid(), "queues": list(queues),
            "concurrency": concurrency, "jobs": ids}
    async with ops.redis.pipeline(transaction=False) as pipe:
        pipe.zadd(k.workers, {worker_id: int(time.time() * 1000)})
        pipe.set(k.worker(worker_id), dumps(info), ex=int(s.worker_timeout_s * 3) + 1)
        if ids:
            pipe.mget([k.cancel(i) for i in ids])
        res = await pipe.execute()
    return [job_id for job_id, flag in zip(ids, res[2], strict=True) if flag] if ids else []


def overdue(active: Mapping[str, Running], heartbeat_s: float) -> list[tuple[Running, Outcome]]:
    """Attempts still running well past their timeout (a task swallowing CancelledError, a
    thread that never returns), each with the timeout outcome to record for it now: the
    job retries or fails instead of staying `running` forever. The abandoned task's
    later writes are fenced off."""
    margin = max(_WATCHDOG_MIN_MARGIN_S, 2 * heartbeat_s)
    now = time.monotonic()
    out = []
    for run in active.values():
        if run.abandoned or run.deadline is None or now < run.deadline + margin:
            continue
        log.error("job %s attempt %d: still running %.0fs past its timeout; abandoning it",
                  run.env.id, run.env.attempt, now - run.deadline)
        run.abandoned = True
        out.append((run, Outcome("fail", error=error("timeout",
                                                      "did not stop at its timeout; abandoned"),
                                 retryable=True)))
    return out


class StallWatch:
    """A thread: when the event loop has not ticked for the worker timeout (a task
    blocking it), peers already treat this worker as dead and recover its jobs; with no
    peer nobody would, so the process exits (70) for its supervisor to replace it."""

    def __init__(self, worker_id: str, limit_s: float) -> None:
        self.worker_id = worker_id
        self.limit_s = limit_s
        self.tick: float | None = time.monotonic()  # None once stopped

    def start(self) -> None:
        self.tick = time.monotonic()
        threading.Thread(target=self._watch, name="agentq-stall-watch", daemon=True).start()

    def stop(self) -> None:
        self.tick = None

    def _watch(self) -> None:
        limit = self.limit_s
        interval = min(1.0, limit / 4)
        checked = time.monotonic()
        while (tick := self.tick) is not None:
            now = time.monotonic()
            # This thread overslept too: the whole process was paused (SIGSTOP, a VM
            # freeze), not the loop blocked. Give the loop an interval to tick again.
            if now - checked <= limit and now - tick > limit:
                log.critical("worker %s: event loop blocked for over %.0fs; exiting",
                             self.worker_id, limit)
                faulthandler.dump_traceback(all_threads=True)
                os._exit(70)
            checked = now
            time.sleep(interval)
