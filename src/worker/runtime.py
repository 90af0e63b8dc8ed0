"""The worker process: its life from start to a clean stop, and the loops it runs.

Each concern lives in its own module: `claimer` (claim, and run what it claims),
`executor` (run one attempt), `finisher` (write starts and outcomes in batches, and claim
successors under a backlog), `heartbeat` (liveness, cancel requests, watchdog, stall
detector), `recovery` (promotion, dead workers, orphans, unreadable envelopes),
`callbacks` (completion callbacks) and `scheduler` (cron schedules). This one ties them
together: one asyncio loop runs up to `concurrency` jobs; an idle worker needs three
round trips per job in all (enqueue; BLPOP and claim; start and finish, or start, then
finish), a busy one about one per batch of jobs that end together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from redis import exceptions as redis_errors

from src.history import History
from src.queue import Client
from src.queue.connection import REDIS_DOWN, connect
from src.queue.control import wake_due
from src.queue.keys import Keys
from src.queue.models import Envelope, error
from src.queue.ops import Call, Ops, Started
from src.queue.registry import Registry
from src.queue.settings import Settings

from .archiver import Archiver
from .callbacks import CallbackSender
from .claimer import BLOCK_S, Claimer
from .context import JobContext
from .executor import run_attempt
from .finisher import Finisher
from .heartbeat import StallWatch, beat, overdue
from .outbox import Outbox
from .outcome import Outcome, Running, describe
from .recovery import Recovery
from .scheduler import Scheduler

log = logging.getLogger("agentq.worker")

_MAINTENANCE_EVERY_S = 0.25  # promotion of due jobs, ended waits, callbacks; recovery
                             # once a heartbeat
_CANCEL_WAIT_S = 5.0         # how long cancelled tasks get to unwind
TASK_THREAD_PREFIX = "agentq-task"


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
        self.queues = list(queues) or ["default"]
        self.concurrency = concurrency
        self.max_jobs = max_jobs
        self.id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"
        self.keys = Keys(settings.namespace)
        self.redis = connect(settings.redis_url, cluster=settings.redis_cluster)
        self.blocking = connect(settings.redis_url, cluster=settings.redis_cluster,
                                socket_timeout=BLOCK_S + 10)
        self.ops = Ops(self.redis, self.keys, settings)
        self.active: dict[str, Running] = {}
        self.crashed = False  # a loop of the worker died: exit non-zero so it is restarted
        self._stop = asyncio.Event()
        self._slot_free = asyncio.Event()
        processing = self.keys.processing(self.id)
        self.claimer = Claimer(self.ops, self.blocking, self, processing,
                               self.queues, burst=burst)
        self.outbox = Outbox(self.ops)
        self.finisher = Finisher(self.ops, self.id, processing, self._finished, self.outbox,
                                 self.claimer, self._run)
        self.recovery = Recovery(self.ops, self.id, processing)
        self.callbacks = CallbackSender(self.ops)
        self.stall = StallWatch(self.id, settings.worker_timeout_s)
        self.archiver = (Archiver(self.ops, History(settings.database_url), self.id)
                         if settings.database_url else None)
        self.scheduler = Scheduler(Client(self.redis, settings.namespace, settings, tasks=registry),
                                   registry.schedules(settings.schedules), self.sleep,
                                   lambda: self.stopping)

    @property
    def finished(self) -> int:
        return self.finisher.finished

    # -- what the claimer asks --------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def free_slots(self) -> int:
        free = self.concurrency - len(self.active)
        if self.max_jobs is not None:
            free = min(free, self.max_jobs - self.claimer.claimed)
        return free

    def claimable(self, freed: int) -> int:
        """How many jobs to claim for `freed` slots that ending jobs still hold."""
        if self.max_jobs is not None:
            return min(freed, self.max_jobs - self.claimer.claimed)
        return freed

    def exhausted(self) -> bool:
        return self.max_jobs is not None and self.claimer.claimed >= self.max_jobs

    def idle(self) -> bool:
        return not self.active and not self.finisher.pending and not self.finisher.starts

    def launch(self, env: Envelope, raw: bytes, record: dict[str, Any],
               start: Call[Started]) -> None:
        """Take a claimed job: its task runs once its start is on its way (`Finisher`)."""
        run = Running(env, raw, JobContext(self.ops, self.id, env, record, self.outbox))
        self.active[env.id] = run
        self.finisher.start(run, start)

    def _run(self, run: Running) -> None:
        run.task = asyncio.create_task(self._execute(run), name=f"job-{run.env.id}")

    async def wait_for_slot(self, timeout_s: float) -> None:
        self._slot_free.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._slot_free.wait(), timeout_s)

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake up when a stop is requested."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    def request_stop(self) -> None:
        if not self._stop.is_set():
            log.info("worker %s: stopping (no new jobs; %d running)", self.id, len(self.active))
            self._stop.set()

    # -- a job's attempt --------------------------------------------------------

    async def _execute(self, run: Running) -> None:
        try:
            outcome = await run_attempt(run, self.registry)
        except Exception as exc:  # a bug of ours must not lose the job
            log.exception("job %s: worker error", run.env.id)
            outcome = Outcome("fail", error=error("exception", describe(exc)), retryable=True)
        if not run.abandoned:
            self.finisher.add(run, outcome)

    def _finished(self, run: Running) -> None:
        self.active.pop(run.env.id, None)
        self._slot_free.set()

    # -- lifecycle --------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        # Sync tasks run in threads; asyncio's default pool has only cpu+4 of them.
        executor = ThreadPoolExecutor(max_workers=self.concurrency + 4,
                                      thread_name_prefix=TASK_THREAD_PREFIX)
        loop.set_default_executor(executor)
        try:
            if await self._register():
                await self._serve()
        finally:
            # A hung task thread must not hold a stopping worker: the loop's own executor
            # shutdown would join it forever. __main__ exits past any thread still alive.
            executor.shutdown(wait=False, cancel_futures=True)
            loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
            await self.redis.aclose()
            await self.blocking.aclose()
            if self.archiver is not None:
                self.archiver.history.close()

    async def _serve(self) -> None:
        self.stall.start()
        log.info("worker %s: queues=%s concurrency=%d tasks=%s", self.id, ",".join(self.queues),
                 self.concurrency, ",".join(self.registry.names()))
        loops = [self._heartbeat_loop(), self._maintenance_loop(), self.finisher.loop(),
                 self._tick_loop(), self.scheduler.loop(), self.outbox.loop()]
        if self.archiver is not None:
            loops.append(self.archiver.run(self._stop))
        background = [asyncio.create_task(c) for c in loops]
        claimer = asyncio.create_task(self.claimer.loop())
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
            self.stall.stop()
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
            except REDIS_DOWN as exc:
                log.warning("worker %s: Redis unavailable (%s); retrying in %.1fs", self.id, exc,
                            delay)
                await self.sleep(delay)
                if self._stop.is_set():
                    return False
                delay = min(delay * 2, 5.0)
        raise RuntimeError("Redis did not answer for minutes; giving up")

    async def _unregister(self) -> None:
        with contextlib.suppress(*REDIS_DOWN):
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
        while not self.idle() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        with contextlib.suppress(*REDIS_DOWN):
            await self.recovery.sweep_own()
        await self.callbacks.close(timeout_s=min(5.0, self.settings.shutdown_grace_s))

    # -- periodic work ----------------------------------------------------------

    async def _beat(self) -> None:
        for job_id in await beat(self.ops, self.id, self.queues, self.concurrency, self.active):
            run = self.active.get(job_id)
            if run and run.task and run.stop_reason is None:
                log.info("job %s: cancel requested; cancelling", job_id)
                run.ctx.request_cancel()
                run.stop_reason = "cancel"
                run.task.cancel()

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            for run, outcome in overdue(self.active, self.settings.heartbeat_s):
                self.finisher.add(run, outcome)
            try:
                await self._beat()
            except REDIS_DOWN as exc:
                log.warning("worker %s: heartbeat failed (%s)", self.id, exc)

    async def _tick_loop(self) -> None:
        while True:
            if self.stall.tick is not None:
                self.stall.tick = time.monotonic()
            await asyncio.sleep(min(0.5, self.settings.heartbeat_s / 2))

    async def _maintenance_loop(self) -> None:
        next_recovery = 0.0
        while not self._stop.is_set():
            try:
                await self.recovery.promote_due()
                await wake_due(self.ops)
                await self.callbacks.poll()
                if time.monotonic() >= next_recovery:
                    next_recovery = time.monotonic() + self.settings.heartbeat_s
                    await self.recovery.recover_dead_workers()
                    await self.recovery.sweep_orphans(set(self.active))
            except REDIS_DOWN as exc:
                log.debug("worker %s: maintenance skipped (%s)", self.id, exc)
            await self.sleep(_MAINTENANCE_EVERY_S)


def install_signal_handlers(worker: Worker) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.request_stop)
