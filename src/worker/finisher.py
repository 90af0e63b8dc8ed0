"""Finishing attempts: each outcome becomes one fenced script, written in batches.

Outcomes queue up while the finisher writes the previous batch, so a busy worker pays
one round trip for many finished jobs. A job that ends here with a `callback_url` has
its callback scheduled by the same script (`src/worker/callbacks.py` delivers it); the
same script counts the attempt's run and wait times into the metrics histograms
(`src/queue/histograms.py`), and its LLM tokens and cost
(`src/worker/ledger.py`). Each recorded attempt is logged at INFO, one line with
`job_id`, `attempt`, `worker` and the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from src.queue import histograms, tracing
from src.queue.connection import REDIS_DOWN
from src.queue.models import Status, error, iso
from src.queue.ops import Call, Fenced, Ops, Suspended

from .executor import outcome_name, will_retry
from .outbox import Outbox
from .outcome import Outcome, Running
from .recovery import recover_call

log = logging.getLogger("agentq.worker")


_IDLE_WAIT_S = 1.0


class Finisher:
    def __init__(self, ops: Ops, worker_id: str, processing: str,
                 on_done: Callable[[Running], None], outbox: Outbox | None = None) -> None:
        self.ops = ops
        self.worker_id = worker_id
        self.processing = processing
        self.on_done = on_done
        self.outbox = outbox
        self.pending: list[tuple[Running, Outcome]] = []
        self.finished = 0
        self._wake = asyncio.Event()

    def add(self, run: Running, outcome: Outcome) -> None:
        self.pending.append((run, outcome))
        self._wake.set()

    def _backoff(self, attempt: int) -> float:
        s = self.ops.settings
        return min(s.retry_max_s, s.retry_base_s * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)

    def call_for(self, run: Running, out: Outcome) -> Call[Any]:
        env, rec, now = run.env, run.ctx.record, time.time()
        ops, me, proc = self.ops, self.worker_id, self.processing
        if out.kind == "putback":
            return recover_call(ops, proc, run.raw, env, lost=False, current=rec)
        if out.kind == "wait" and out.wait is not None:
            name, until = out.wait
            waiting = {**rec, "status": Status.WAITING.value, "message": f"waiting for {name}",
                       "waiting_for": {"name": name, "until": iso(until)}}
            queued = {**rec, "status": Status.QUEUED.value, "message": f"signal {name} received"}
            resume = env.model_copy(update={"usage": rec["usage"]}) if rec.get("usage") else None
            observe = run.ctx.usage.observations(env.type, rec.get("tenant") or "default")
            return ops.suspend(env, run.raw, me, proc, waiting, queued, name, int(until * 1000),
                               resume, observe)
        run_s = time.monotonic() - run.started
        failed = out.error["type"] if out.error and out.kind in ("fail", "retry") else None
        observe = histograms.observations(env.type, run_s, now - run_s - env.enqueued_at,
                                          failed)
        observe += run.ctx.usage.observations(env.type, rec.get("tenant") or "default")
        if will_retry(env, out):
            delay = out.after_s if out.after_s is not None else self._backoff(env.attempt)
            scheduled = {**rec, "status": Status.SCHEDULED.value, "error": out.error,
                         "message": f"retrying in {delay:.1f}s"}
            nxt = env.next_attempt()
            if rec.get("usage"):  # the next attempt's record starts from these totals
                nxt = nxt.model_copy(update={"usage": rec["usage"]})
            return ops.retry(env, run.raw, me, proc, nxt,
                             int((now + delay) * 1000), scheduled, observe)
        if out.kind == "ok":
            final = {**rec, "status": Status.SUCCEEDED.value, "progress": 100,
                     "result": out.result, "finished_at": iso(now)}
        elif out.kind == "cancelled":
            final = {**rec, "status": Status.CANCELLED.value, "error": out.error,
                     "finished_at": iso(now)}
        else:  # fail for good, or stale (the fence refuses the write and drops our copy)
            final = {**rec, "status": Status.FAILED.value, "finished_at": iso(now),
                     "error": out.error or error("lost", "this attempt lost the job")}
        observe += histograms.ended_observation(env.type, rec.get("tenant") or "default",
                                                final["status"])
        return ops.finish(env, run.raw, me, proc, final, dead=final["status"] == "failed",
                          observe=observe)

    async def loop(self) -> None:
        delay = 0.1
        while True:
            if not self.pending:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), _IDLE_WAIT_S)
                continue
            if self.outbox is not None:  # events of these jobs a flush is sending land first
                await self.outbox.settled()
            batch, self.pending = self.pending, []
            # the jobs' last events go first, in the same round trip
            events = self.outbox.take([r.ctx for r, _ in batch]) if self.outbox else []
            try:
                results = await self.ops.run_all([c for _, c in events] +
                                                 [self.call_for(r, o) for r, o in batch])
                delay = 0.1
            except REDIS_DOWN as exc:
                log.warning("worker %s: cannot record %d results (%s); retrying",
                            self.worker_id, len(batch), exc)
                self.pending[:0] = batch
                if self.outbox is not None:
                    self.outbox.send_later(events)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            for (ctx, _), code in zip(events, results, strict=False):
                ctx.settle(code)
            for (run, out), code in zip(batch, results[len(events):], strict=True):
                if code is Suspended.CANCEL_REQUESTED:  # cancel the attempt instead of parking
                    self.add(run, Outcome("cancelled", error=error("cancelled",
                                                                   "cancelled by request")))
                    continue
                self.finished += 1
                if out.kind != "putback" and code in (Fenced.STALE, Fenced.NO_RECORD):
                    log.warning("job %s attempt %d: result refused (attempt no longer owns "
                                "the job)", run.env.id, run.env.attempt)
                else:
                    self._log(run, out)
                self.on_done(run)

    def _log(self, run: Running, out: Outcome) -> None:
        """The one INFO line of a recorded attempt."""
        env, seconds = run.env, time.monotonic() - run.started
        outcome = outcome_name(env, out)
        fields = {"job_id": env.id, "attempt": env.attempt, "worker": self.worker_id,
                  "outcome": outcome, "type": env.type, "queue": env.queue,
                  "run_s": round(seconds, 3)}
        if out.error is not None:
            fields["error_type"] = out.error["type"]
        if (trace_id := tracing.trace_id_of(env.traceparent)) is not None:
            fields["trace_id"] = trace_id
        log.info("job %s attempt %d: %s after %.2fs", env.id, env.attempt, outcome, seconds,
                 extra=fields)
