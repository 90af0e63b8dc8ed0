"""The worker process: claim → start → run → finish, plus heartbeat, recovery and shutdown.

One asyncio loop runs up to `concurrency` jobs. A single claim loop feeds them: under a
backlog it claims a batch with `claim.lua` (LMOVE in a loop) and starts the batch in one
pipeline; when the queue is empty it blocks in BLMOVE on a connection of its own.
Finished jobs are written by one finisher in batches (one pipeline per batch), so a
busy worker needs fewer than one round trip per job, and an idle one four in all:
enqueue, BLMOVE, start, finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
import os
import random
import secrets
import signal
import socket
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError
from redis import exceptions as redis_errors

from src.queue import scripts
from src.queue.client import EVENTS_MAX
from src.queue.connection import connect
from src.queue.errors import StaleAttempt
from src.queue.keys import Keys
from src.queue.models import (
    Envelope,
    Status,
    dumps,
    error,
    iso,
    make_record,
    status_event,
)
from src.queue.scripts import Code
from src.queue.settings import Settings

from .context import JobContext
from .errors import Fatal, Retry
from .registry import Registry

log = logging.getLogger("agentq.worker")

_REDIS_DOWN = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)
_BLOCK_S = 1.0            # longest BLMOVE wait, so a stop request is seen within a second
_PROMOTE_EVERY_S = 0.25   # how often due scheduled jobs are moved to their queue
_PROMOTE_BATCH = 200
_CANCEL_WAIT_S = 5.0      # how long cancelled tasks get to unwind
_WATCHDOG_MIN_MARGIN_S = 1.0
TASK_THREAD_PREFIX = "agentq-task"


@dataclass(slots=True)
class Outcome:
    kind: str                      # ok | fail | retry | cancelled | putback | stale
    result: Any = None
    error: dict[str, str] | None = None
    retryable: bool = False
    after_s: float | None = None


@dataclass(slots=True)
class Running:
    env: Envelope
    raw: bytes
    ctx: JobContext
    task: asyncio.Task[None] | None = None
    stop_reason: str | None = None  # "cancel" | "shutdown"
    started: float = field(default_factory=time.monotonic)
    deadline: float | None = None   # monotonic time the attempt's timeout runs out
    abandoned: bool = False         # the watchdog recorded a timeout; ignore the task now


def _describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # a task's exception may fail in __str__ itself
        text = "<unprintable message>"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Worker:
    """One worker process. `await Worker(...).run()` returns when it has stopped cleanly."""

    def __init__(
        self, settings: Settings, registry: Registry, *, queues: Sequence[str] = ("default",),
        concurrency: int = 8, burst: bool = False, max_jobs: int | None = None,
        worker_id: str | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if not len(registry):
            raise ValueError("no tasks are registered")
        self.settings = settings
        self.registry = registry
        self.keys = Keys(settings.namespace)
        self.queues = list(queues) or ["default"]
        self.concurrency = concurrency
        self.burst = burst
        self.max_jobs = max_jobs
        self.id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"
        self.redis = connect(settings.redis_url, cluster=settings.redis_cluster)
        self.blocking = connect(settings.redis_url, cluster=settings.redis_cluster,
                                socket_timeout=_BLOCK_S + 10)
        self.active: dict[str, Running] = {}
        self.claimed = 0
        self.finished = 0
        self._outcomes: list[tuple[Running, Outcome]] = []
        self._wake_finisher = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._stop = asyncio.Event()
        self._callbacks: set[asyncio.Task[Any]] = set()
        self.crashed = False  # a loop of the worker died: exit non-zero so it is restarted
        self._orphans: set[bytes] = set()  # own envelopes not running at the last sweep
        self._loop_tick: float | None = time.monotonic()  # None once stopped
        self._proc = self.keys.processing(self.id)
        self._queue_keys = [self.keys.queue(q) for q in self.queues]

    # -- lifecycle --------------------------------------------------------------

    def request_stop(self) -> None:
        if not self._stop.is_set():
            log.info("worker %s: stopping (no new jobs; %d running)", self.id, len(self.active))
            self._stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        # Sync tasks run in threads; asyncio's default pool has only cpu+4 of them.
        executor = ThreadPoolExecutor(max_workers=self.concurrency + 4,
                                      thread_name_prefix=TASK_THREAD_PREFIX)
        loop.set_default_executor(executor)
        try:
            if not await self._register():
                return
            await self._serve()
        finally:
            # A hung task thread must not hold a stopping worker: the loop's own executor
            # shutdown would join it forever. __main__ exits past any thread still alive.
            executor.shutdown(wait=False, cancel_futures=True)
            loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
            await self.redis.aclose()
            await self.blocking.aclose()

    async def _serve(self) -> None:
        self._loop_tick = time.monotonic()
        threading.Thread(target=self._stall_watch, name="agentq-stall-watch", daemon=True).start()
        log.info("worker %s: queues=%s concurrency=%d tasks=%s", self.id, ",".join(self.queues),
                 self.concurrency, ",".join(self.registry.names()))
        background = [asyncio.create_task(c) for c in (
            self._heartbeat_loop(), self._maintenance_loop(), self._finisher_loop(),
            self._tick_loop())]
        claimer = asyncio.create_task(self._claim_loop())
        for t in (claimer, *background):
            t.add_done_callback(self._on_loop_done)
        try:
            await self._stop.wait()
        finally:
            claimer.cancel()
            await asyncio.gather(claimer, return_exceptions=True)  # errors were logged already
            await self._drain()
            for t in background:
                t.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await self._unregister()
            self._loop_tick = None
            log.info("worker %s: stopped after %d jobs", self.id, self.finished)

    def _on_loop_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        log.error("worker %s: a worker loop died; stopping", self.id, exc_info=task.exception())
        self.crashed = True
        self.request_stop()

    async def _register(self) -> bool:
        """First heartbeat, waiting for Redis; False if a stop was asked for meanwhile."""
        delay = 0.2
        for _ in range(60):
            try:
                await self._beat()
                return True
            except redis_errors.AuthenticationError:
                raise  # a wrong password does not fix itself
            except _REDIS_DOWN as exc:
                log.warning("worker %s: Redis unavailable (%s); retrying in %.1fs", self.id, exc, delay)
                await self._sleep(delay)
                if self._stop.is_set():
                    return False
                delay = min(delay * 2, 5.0)
        raise RuntimeError("Redis did not answer for minutes; giving up")

    async def _unregister(self) -> None:
        with contextlib.suppress(*_REDIS_DOWN):
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zrem(self.keys.workers, self.id)
                pipe.delete(self.keys.worker(self.id))
                await pipe.execute()

    async def _drain(self) -> None:
        """Graceful stop: let running jobs finish within the grace period, put the rest back."""
        running = [r.task for r in self.active.values() if r.task]
        if running:
            log.info("worker %s: waiting up to %.0fs for %d running jobs", self.id,
                     self.settings.shutdown_grace_s, len(running))
            await asyncio.wait(running, timeout=self.settings.shutdown_grace_s)
        leftover = [r for r in self.active.values() if r.task and not r.task.done()]
        for run in leftover:
            run.stop_reason = "shutdown"
            run.task.cancel()  # type: ignore[union-attr]
        if leftover:
            await asyncio.wait([r.task for r in leftover if r.task], timeout=_CANCEL_WAIT_S)
        deadline = time.monotonic() + 10
        while (self._outcomes or self.active) and time.monotonic() < deadline:
            self._wake_finisher.set()
            await asyncio.sleep(0.02)
        await self._sweep_own()

    async def _sweep_own(self) -> None:
        """Put back every envelope still in our processing list (claimed, not finished)."""
        with contextlib.suppress(*_REDIS_DOWN):
            for raw in await self.redis.lrange(self._proc, 0, -1):
                await self._recover_one(self._proc, raw, lost=False)

    # -- claiming ---------------------------------------------------------------

    def _free_slots(self) -> int:
        free = self.concurrency - len(self.active)
        if self.max_jobs is not None:
            free = min(free, self.max_jobs - self.claimed)
        return free

    async def _claim_loop(self) -> None:
        backlog, delay, turn = True, 0.1, 0
        while not self._stop.is_set():
            free = self._free_slots()
            if free <= 0:
                if self.max_jobs is not None and self.claimed >= self.max_jobs:
                    if not self.active:
                        self.request_stop()
                        return
                self._slot_free.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._slot_free.wait(), _BLOCK_S)
                continue
            try:
                if backlog:
                    raws = await scripts.run(self.redis, "claim", [self._proc, *self._queue_keys], [free])
                    backlog = len(raws) == free
                    if raws:
                        await self._start(raws, probe=None)
                    continue
                queue = self._queue_keys[turn % len(self._queue_keys)]
                turn += 1
                timeout = 0.1 if self.burst else (_BLOCK_S if len(self._queue_keys) == 1 else 0.2)
                raw = await self.blocking.blmove(queue, self._proc, timeout, "RIGHT", "LEFT")
                delay = 0.1
                if raw is None:
                    backlog = len(self._queue_keys) > 1  # look at every queue again
                    if self.burst and not self.active and not self._outcomes:
                        self.request_stop()
                    continue
                backlog = await self._start([raw], probe=queue)
            except _REDIS_DOWN as exc:
                log.warning("worker %s: Redis unavailable (%s); retrying in %.1fs", self.id, exc, delay)
                await self._sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 5.0)
                backlog = True

    async def _start(self, raws: list[bytes], probe: str | None) -> bool:
        """Start claimed envelopes in one round trip; True when `probe` queue has more."""
        k, s, now = self.keys, self.settings, time.time()
        calls, runs = [], []
        for raw in raws:
            if (env := await self._parse_or_bury(self._proc, raw)) is None:
                continue
            record = make_record(env, Status.RUNNING, started_at=now, worker=self.id)
            calls.append(("start", [k.job(env.id), k.events(env.id), self._proc],
                          [raw, env.attempt, dumps(record), s.job_ttl_s, status_event(record),
                           EVENTS_MAX]))
            runs.append(Running(env, raw, JobContext(self, env, record)))
        if not calls:
            return probe is not None
        if probe is None:
            results, more = await scripts.run_many(self.redis, calls), False
        else:
            *results, length = await scripts.run_many(self.redis, calls, lambda p: p.llen(probe))
            more = length > 0
        for run, code in zip(runs, results, strict=True):
            self.claimed += 1
            if code != Code.OK:
                log.info("job %s attempt %d not started (%s)", run.env.id, run.env.attempt,
                         "cancelled" if code == Code.CANCELLED else "stale or finished")
                continue
            self.active[run.env.id] = run
            run.task = asyncio.create_task(self._execute(run), name=f"job-{run.env.id}")
        return more

    async def _parse_or_bury(self, source: str, raw: bytes) -> Envelope | None:
        """The envelope, or None after moving an unreadable one from `source` to the dead list."""
        try:
            return Envelope.model_validate_json(raw)
        except ValueError as exc:
            await self._bury(source, raw, f"unreadable envelope: {_describe(exc)}")
            return None

    async def _bury(self, source: str, raw: bytes, reason: str) -> None:
        log.error("worker %s: %s; moved to the dead list: %.200r", self.id, reason, raw)
        async with self.redis.pipeline(transaction=True) as pipe:
            if source == self.keys.scheduled:
                pipe.zrem(source, raw)
            else:
                pipe.lrem(source, 1, raw)
            pipe.lpush(self.keys.dead, raw)
            pipe.ltrim(self.keys.dead, 0, self.settings.dead_max - 1)
            await pipe.execute()
        await self._fail_record_of(raw, reason)

    async def _fail_record_of(self, raw: bytes, reason: str) -> None:
        """If a buried envelope still names a job whose record waits, mark that record failed."""
        try:
            job_id = orjson.loads(raw)["id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return
        if not isinstance(job_id, str) or not job_id:
            return
        key = self.keys.job(job_id)
        current = await self.redis.get(key)
        rec = orjson.loads(current) if current else None
        if not isinstance(rec, dict) or rec.get("status") not in (Status.QUEUED, Status.SCHEDULED):
            return
        rec.update(status=Status.FAILED.value, finished_at=iso(time.time()),
                   error=error("invalid", reason))
        await self.redis.set(key, dumps(rec), ex=self.settings.result_ttl_s, xx=True)

    # -- running ----------------------------------------------------------------

    async def _execute(self, run: Running) -> None:
        try:
            outcome = await self._run_task(run)
        except Exception as exc:  # a bug of ours must not lose the job
            log.exception("job %s: worker error", run.env.id)
            outcome = Outcome("fail", error=error("exception", _describe(exc)), retryable=True)
        if run.abandoned:
            return
        self._outcomes.append((run, outcome))
        self._wake_finisher.set()

    async def _run_task(self, run: Running) -> Outcome:
        env, ctx = run.env, run.ctx
        taskdef = self.registry.get(env.type)
        if taskdef is None:
            return Outcome("fail", error=error("invalid", f"unknown task type {env.type!r}"))
        try:
            data = taskdef.input.model_validate(env.payload) if taskdef.input else env.payload
        except ValidationError as exc:
            return Outcome("fail", error=error("invalid", f"invalid payload: {exc}"))
        timeout = env.timeout_s or taskdef.timeout_s
        run.deadline = time.monotonic() + timeout
        try:
            async with asyncio.timeout(timeout):
                if taskdef.is_async:
                    result = await taskdef.fn(ctx, data)
                else:
                    result = await asyncio.to_thread(taskdef.fn, ctx, data)
            orjson.dumps(result)
            return Outcome("ok", result=result)
        except TimeoutError:
            return Outcome("fail", error=error("timeout", f"timed out after {timeout:g}s"),
                           retryable=True)
        except asyncio.CancelledError:
            if run.stop_reason == "cancel":
                return Outcome("cancelled", error=error("cancelled", "cancelled by request"))
            if run.stop_reason == "shutdown":
                return Outcome("putback")
            raise
        except Retry as exc:
            return Outcome("retry", error=error("exception", _describe(exc)), retryable=True,
                           after_s=exc.after_s)
        except StaleAttempt:
            return Outcome("stale")
        except Fatal as exc:
            return Outcome("fail", error=error("exception", _describe(exc)))
        except (Exception, SystemExit, KeyboardInterrupt) as exc:  # task code must not stop us
            return Outcome("fail", error=error("exception", _describe(exc)), retryable=True)

    # -- finishing --------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        s = self.settings
        return min(s.retry_max_s, s.retry_base_s * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)

    def _finish_call(self, run: Running, out: Outcome) -> tuple[str, list[str], list[Any]]:
        k, s, env, now = self.keys, self.settings, run.env, time.time()
        rec = run.ctx.record
        job_keys = [k.job(env.id), k.events(env.id), self._proc, k.stats]
        if out.kind == "putback":
            queued = make_record(env, Status.QUEUED, attempt=env.attempt - 1,
                                 message="put back by a stopping worker")
            return self._recover_call(self._proc, run.raw, "queue", run.raw, queued, env)
        if out.kind in ("fail", "retry") and out.retryable and env.attempt < env.max_attempts:
            nxt = env.next_attempt()
            delay = out.after_s if out.after_s is not None else self._backoff(env.attempt)
            scheduled = {**rec, "status": Status.SCHEDULED.value, "error": out.error,
                         "message": f"retrying in {delay:.1f}s"}
            return ("retry", [*job_keys, k.scheduled],
                    [env.attempt, self.id, run.raw, nxt.dump(), int((now + delay) * 1000),
                     dumps(scheduled), s.job_ttl_s, status_event(scheduled), EVENTS_MAX,
                     f"{env.queue}:retried"])
        if out.kind == "ok":
            final = {**rec, "status": Status.SUCCEEDED.value, "progress": 100,
                     "result": out.result, "finished_at": iso(now)}
            field_, dead = "succeeded", ""
        elif out.kind == "cancelled":
            final = {**rec, "status": Status.CANCELLED.value, "error": out.error,
                     "finished_at": iso(now)}
            field_, dead = "cancelled", ""
        else:  # fail for good, or stale (the fence refuses the write and drops our copy)
            final = {**rec, "status": Status.FAILED.value, "finished_at": iso(now),
                     "error": out.error or error("lost", "this attempt lost the job")}
            field_, dead = "failed", run.raw
        return ("finish", [*job_keys, k.dead, k.cancel(env.id), k.steps(env.id)],
                [env.attempt, self.id, run.raw, dumps(final), s.result_ttl_s, status_event(final),
                 EVENTS_MAX, f"{env.queue}:{field_}", dead, s.dead_max])

    async def _finisher_loop(self) -> None:
        delay = 0.1
        while True:
            if not self._outcomes:
                self._wake_finisher.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake_finisher.wait(), _BLOCK_S)
                continue
            batch, self._outcomes = self._outcomes, []
            try:
                results = await scripts.run_many(self.redis, [self._finish_call(r, o) for r, o in batch])
                delay = 0.1
            except _REDIS_DOWN as exc:
                log.warning("worker %s: cannot record %d results (%s); retrying", self.id, len(batch), exc)
                self._outcomes[:0] = batch
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            for (run, out), code in zip(batch, results, strict=True):
                self.active.pop(run.env.id, None)
                self.finished += 1
                if out.kind != "putback" and code not in (Code.OK, 1, 2, 3):
                    log.warning("job %s attempt %d: result refused (attempt no longer owns the job)",
                                run.env.id, run.env.attempt)
                elif run.env.callback_url and out.kind in ("ok", "cancelled", "fail") and code == Code.OK:
                    self._send_callback(run)
            self._slot_free.set()

    def _send_callback(self, run: Running) -> None:
        try:
            from src.api.callbacks import deliver_callback
        except ImportError:
            return

        async def send() -> None:
            record = await self.redis.get(self.keys.job(run.env.id))
            if record:
                await deliver_callback(orjson.loads(record), url=run.env.callback_url)

        task = asyncio.create_task(send())
        self._callbacks.add(task)
        task.add_done_callback(self._callbacks.discard)

    # -- heartbeat, cancel, recovery, promotion ----------------------------------

    async def _beat(self) -> None:
        k, now = self.keys, time.time()
        ids = list(self.active)
        info = {"host": socket.gethostname(), "pid": os.getpid(), "queues": self.queues,
                "concurrency": self.concurrency, "jobs": ids}
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(k.workers, {self.id: int(now * 1000)})
            pipe.set(k.worker(self.id), dumps(info), ex=int(self.settings.worker_timeout_s * 3) + 1)
            if ids:
                pipe.mget([k.cancel(i) for i in ids])
            res = await pipe.execute()
        if ids:
            for job_id, flag in zip(ids, res[2], strict=True):
                run = self.active.get(job_id)
                if flag and run and run.task and run.stop_reason is None:
                    log.info("job %s: cancel requested; cancelling", job_id)
                    run.ctx._cancelled = True
                    run.stop_reason = "cancel"
                    run.task.cancel()

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            self._watchdog()
            try:
                await self._beat()
            except _REDIS_DOWN as exc:
                log.warning("worker %s: heartbeat failed (%s)", self.id, exc)

    def _watchdog(self) -> None:
        """Give up on attempts that ignore their timeout (a task swallowing CancelledError,
        a thread that never returns): record a timeout so the job retries or fails instead
        of staying `running` forever. The abandoned task's later writes are fenced off."""
        margin = max(_WATCHDOG_MIN_MARGIN_S, 2 * self.settings.heartbeat_s)
        now = time.monotonic()
        for run in list(self.active.values()):
            if run.abandoned or run.deadline is None or now < run.deadline + margin:
                continue
            log.error("job %s attempt %d: still running %.0fs past its timeout; abandoning it",
                      run.env.id, run.env.attempt, now - run.deadline)
            run.abandoned = True
            self._outcomes.append((run, Outcome(
                "fail", error=error("timeout", "did not stop at its timeout; abandoned"),
                retryable=True)))
            self._wake_finisher.set()

    async def _tick_loop(self) -> None:
        while True:
            self._loop_tick = time.monotonic()
            await asyncio.sleep(min(0.5, self.settings.heartbeat_s / 2))

    def _stall_watch(self) -> None:
        """A thread: when the event loop has not ticked for the worker timeout (a task
        blocking it), peers already treat this worker as dead and recover its jobs; with no
        peer nobody would, so the process exits (70) for its supervisor to replace it."""
        limit = self.settings.worker_timeout_s
        interval = min(1.0, limit / 4)
        checked = time.monotonic()
        while (tick := self._loop_tick) is not None:
            now = time.monotonic()
            # This thread overslept too: the whole process was paused (SIGSTOP, a VM
            # freeze), not the loop blocked. Give the loop an interval to tick again.
            if now - checked <= limit and now - tick > limit:
                log.critical("worker %s: event loop blocked for over %.0fs; exiting", self.id, limit)
                faulthandler.dump_traceback(all_threads=True)
                os._exit(70)
            checked = now
            time.sleep(interval)

    async def _maintenance_loop(self) -> None:
        next_recovery = 0.0
        while not self._stop.is_set():
            try:
                await self._promote_due()
                if time.monotonic() >= next_recovery:
                    next_recovery = time.monotonic() + self.settings.heartbeat_s
                    await self._recover_dead_workers()
                    await self._sweep_orphans()
            except _REDIS_DOWN as exc:
                log.debug("worker %s: maintenance skipped (%s)", self.id, exc)
            await self._sleep(_PROMOTE_EVERY_S)

    async def _promote_due(self) -> None:
        k, s = self.keys, self.settings
        due = await self.redis.zrangebyscore(k.scheduled, "-inf", int(time.time() * 1000),
                                             start=0, num=_PROMOTE_BATCH)
        calls = []
        for raw in due:
            if (env := await self._parse_or_bury(k.scheduled, raw)) is None:
                continue
            queued = make_record(env, Status.QUEUED, attempt=env.attempt - 1)
            calls.append(("promote", [k.scheduled, k.queue(env.queue), k.job(env.id)],
                          [raw, dumps(queued), s.job_ttl_s]))
        await scripts.run_many(self.redis, calls)

    async def _recover_dead_workers(self) -> None:
        k, s = self.keys, self.settings
        cutoff = int((time.time() - s.worker_timeout_s) * 1000)
        dead = [w.decode() for w in await self.redis.zrangebyscore(k.workers, "-inf", cutoff)]
        dead = [w for w in dead if w != self.id]
        if not dead:
            return
        lock = k.lock("recovery")
        if not await self.redis.set(lock, self.id, nx=True, px=int(s.worker_timeout_s * 1000)):
            return
        try:
            for worker in dead:
                proc = k.processing(worker)
                raws = await self.redis.lrange(proc, 0, -1)
                for raw in raws:
                    await self._recover_one(proc, raw, lost=True)
                log.warning("worker %s: recovered %d jobs of dead worker %s", self.id, len(raws), worker)
                if await self.redis.llen(proc) == 0:
                    async with self.redis.pipeline(transaction=True) as pipe:
                        pipe.zrem(k.workers, worker)
                        pipe.delete(k.worker(worker))
                        await pipe.execute()
        finally:
            await self.redis.delete(lock)

    async def _sweep_orphans(self) -> None:
        """Put back envelopes in our own processing list that we are not running.

        They appear when Redis goes away between a claim and its start, or a script ran
        but its answer was lost. One seen on two sweeps in a row (a heartbeat apart) is
        not a claim still being started: it goes back to its queue for the same attempt.
        """
        running = set(self.active)
        orphans = set()
        for raw in await self.redis.lrange(self._proc, 0, -1):
            try:
                job_id = orjson.loads(raw)["id"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                job_id = None
            if job_id not in running:
                orphans.add(raw)
        for raw in orphans & self._orphans:
            log.warning("worker %s: putting back an envelope it was not running: %.120r", self.id, raw)
            await self._recover_one(self._proc, raw, lost=False)
        self._orphans = orphans - self._orphans

    def _recover_call(self, proc: str, raw: bytes, mode: str, new_raw: bytes | str,
                      record: dict[str, Any], env: Envelope) -> tuple[str, list[str], list[Any]]:
        k, s = self.keys, self.settings
        cancelled = make_record(env, Status.CANCELLED, attempt=env.attempt, finished_at=time.time(),
                                error=error("cancelled", "cancelled by request"))
        return ("recover",
                [proc, k.queue(env.queue), k.dead, k.job(env.id), k.events(env.id),
                 k.cancel(env.id), k.stats],
                [raw, mode, new_raw, dumps(record), dumps(cancelled), s.job_ttl_s, s.result_ttl_s,
                 status_event(record), status_event(cancelled), EVENTS_MAX, s.dead_max, env.queue])

    async def _recover_one(self, proc: str, raw: bytes, *, lost: bool) -> None:
        """Move one envelope out of `proc`: next attempt (lost worker) or same (our shutdown)."""
        if (env := await self._parse_or_bury(proc, raw)) is None:
            return
        if not lost:
            queued = make_record(env, Status.QUEUED, attempt=env.attempt - 1,
                                 message="put back by a stopping worker")
            call = self._recover_call(proc, raw, "queue", raw, queued, env)
        elif env.attempt < env.max_attempts:
            nxt = env.next_attempt()
            queued = make_record(nxt, Status.QUEUED, attempt=env.attempt,
                                 message="recovered from a lost worker",
                                 error=error("lost", "the worker running this job stopped"))
            call = self._recover_call(proc, raw, "queue", nxt.dump(), queued, env)
        else:
            failed = make_record(env, Status.FAILED, finished_at=time.time(),
                                 error=error("lost", "the worker running this job stopped and "
                                                     "no attempts are left"))
            call = self._recover_call(proc, raw, "dead", raw, failed, env)
        await scripts.run(self.redis, *call)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)


def install_signal_handlers(worker: Worker) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.request_stop)
