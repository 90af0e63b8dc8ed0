"""Finishing attempts: each outcome becomes one fenced script, written in batches.

Outcomes queue up while the finisher writes the previous batch, so a busy worker pays
one round trip for many finished jobs. The same round trip carries, first, the starts of
the jobs claimed since the last one (their tasks run once it is on the socket; see
`Claimer.start`), and under a
backlog, last, the claim of successors for the slots the ended jobs leave
(`Claimer.refill`). A job that ends here with a `callback_url` has its callback
scheduled by the same script (`src/worker/callbacks.py` delivers it); the same script
counts the attempt's run and wait times into the metrics histograms
(`src/queue/histograms.py`), and its LLM tokens and cost (`src/worker/ledger.py`). Each
recorded attempt is logged at INFO, one line with `job_id`, `attempt`, `worker` and the
outcome.
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
from src.queue.ops import Call, Fenced, Ops, Started, Suspended

from .claimer import Claimer
from .executor import outcome_name, will_retry
from .outbox import Outbox
from .outcome import Outcome, Running
from .recovery import recover_call

log = logging.getLogger("agentq.worker")


_IDLE_WAIT_S = 1.0


class Finisher:
    def __init__(self, ops: Ops, worker_id: str, processing: str,
                 on_done: Callable[[Running], None], outbox: Outbox | None = None,
                 claimer: Claimer | None = None,
                 run: Callable[[Running], None] | None = None) -> None:
        self.ops = ops
        self.worker_id = worker_id
        self.processing = processing
        self.on_done = on_done
        self.outbox = outbox
        self.claimer = claimer
        self.run = run
        self.pending: list[tuple[Running, Outcome]] = []
        self.starts: list[tuple[Running, Call[Started]]] = []
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

    def start(self, run: Running, call: Call[Started]) -> None:
        """`run` was claimed: its start call goes first in the next round trip, and its task
        runs as soon as that round trip is on the socket (before the answer)."""
        self.starts.append((run, call))
        self._wake.set()

    async def loop(self) -> None:
        delay = 0.1
        while True:
            if not self.pending and not self.starts:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), _IDLE_WAIT_S)
                continue
            if self.outbox is not None:  # events of these jobs a flush is sending land first
                await self.outbox.settled()
            if await self._round_trip():
                delay = 0.1
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _round_trip(self) -> bool:
        """One round trip: the starts of the jobs claimed since the last one, the pending
        outcomes of jobs whose start is written, each after its job's last events, and,
        under a backlog, a claim for the slots the ending jobs leave. False when Redis is
        away (all of it waits for the next try).

        A job's outcome never goes in the round trip of its start: a script the server
        has forgotten (after a restart) is repeated after the calls behind it, and an
        outcome refused ahead of its start would leave the job `running` for nobody.
        """
        starts, self.starts = self.starts, []
        batch = [(r, o) for r, o in self.pending if r.ctx.start_known and not r.ctx.refused]
        self.pending = [(r, o) for r, o in self.pending if not r.ctx.start_known]
        events = self.outbox.take([r.ctx for r, _ in batch]) if self.outbox else []
        calls = ([c for _, c in starts] + [c for _, c in events] +
                 [self.call_for(r, o) for r, o in batch])
        # a wait cancelled meanwhile keeps its slot
        claim = self.claimer.refill(sum(o.kind != "wait" for _, o in batch)) \
            if self.claimer else None
        try:
            results = await self.ops.run_all(calls + [claim] if claim else calls,
                                             sent=(lambda: self._run_tasks(starts)) if starts
                                             else None)
        except REDIS_DOWN as exc:
            log.warning("worker %s: cannot record %d results (%s); retrying",
                        self.worker_id, len(batch), exc)
            self.starts[:0] = starts
            self.pending[:0] = batch
            if self.outbox is not None:
                self.outbox.send_later(events)
            return False
        for (run, _), code in zip(starts, results, strict=False):
            self._started(run, code)
        for (ctx, _), code in zip(events, results[len(starts):], strict=False):
            ctx.settle(code)
        self._settle(batch, results[len(starts) + len(events):len(calls)])
        if claim and self.claimer:
            await self.claimer.took(results[-1], claim.args[0])
        return True

    def _run_tasks(self, starts: list[tuple[Running, Call[Started]]]) -> None:
        for run, _ in starts:
            if run.task is None and self.run is not None:
                self.run(run)

    def _started(self, run: Running, code: Started) -> None:
        run.ctx.confirm(code is Started.STARTED)
        if code is Started.STARTED:
            return
        log.info("job %s attempt %d not started (%s)", run.env.id, run.env.attempt,
                 "cancelled" if code is Started.CANCELLED else "stale or finished")
        run.abandoned = True  # whatever it does now is not recorded
        if run.task is not None:
            run.task.cancel()
        self.on_done(run)

    def _settle(self, batch: list[tuple[Running, Outcome]], codes: list[Any]) -> None:
        for (run, out), code in zip(batch, codes, strict=True):
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
