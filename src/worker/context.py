"""JobContext: what a running task sees of its job (progress, events, steps, cancel)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import orjson
from opentelemetry.trace import Span

from src.queue import tracing
from src.queue.errors import StaleAttempt
from src.queue.keys import Keys
from src.queue.models import Envelope, event
from src.queue.ops import WAIT_TIMEOUT, Call, Fenced, Ops

from .errors import Suspend, WaitTimeout
from .ledger import Ledger
from .outbox import Outbox, Pending

T = TypeVar("T")
_THREAD_CALL_TIMEOUT_S = 60.0
#: A wait's default length: a day.
WAIT_DEFAULT_S = 86_400.0

log = logging.getLogger("agentq.worker")


class JobContext:
    """Handed to every task as its first argument.

    The methods that touch Redis are coroutines when called on the event loop (await
    them) and plain blocking calls when called from a sync task's thread.
    """

    def __init__(self, ops: Ops, worker_id: str, env: Envelope, record: dict[str, Any],
                 outbox: Outbox | None = None) -> None:
        self._ops = ops
        self._worker_id = worker_id
        self._env = env
        self.record = record
        self._cancelled = False
        #: with an outbox, events wait for its next tick (src/worker/outbox.py)
        self._outbox = outbox
        self._pending: list[str] = []
        self._pending_record = False
        self._stale = False
        #: the attempt's start: True once `start.lua` wrote its `running` record, False when
        #: it refused (cancelled, finished or taken meanwhile); the task runs once the start
        #: is sent, and its writes wait for the answer (`src/worker/claimer.py`)
        self._start: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        #: the job's LLM usage and token budget (src/worker/ledger.py)
        self.usage = Ledger(record, env.max_tokens)
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self.log = logging.LoggerAdapter(log, {"job_id": env.id, "attempt": env.attempt,
                                               "worker": worker_id})

    # -- identity ---------------------------------------------------------------

    @property
    def job_id(self) -> str:
        return self._env.id

    @property
    def attempt(self) -> int:
        return self._env.attempt

    @property
    def worker_id(self) -> str:
        return self._worker_id

    @property
    def max_attempts(self) -> int:
        return self._env.max_attempts

    @property
    def queue(self) -> str:
        return self._env.queue

    @property
    def payload(self) -> Any:
        return self._env.payload

    @property
    def redis(self) -> Any:
        """The worker's Redis client, for a task's own keys."""
        return self._ops.redis

    @property
    def keys(self) -> Keys:
        return self._ops.keys

    @property
    def cancelled(self) -> bool:
        """True once a cancel was requested for this job; stop as soon as you can."""
        return self._cancelled

    def request_cancel(self) -> None:
        """Called by the worker when a cancel request arrives."""
        self._cancelled = True

    # -- writes -----------------------------------------------------------------

    def progress(self, percent: int, message: str | None = None) -> Any:
        """Report progress 0–100 (never goes down within an attempt) and a step message."""
        return self._dispatch(self._progress(percent, message))

    def emit(self, kind: str, data: dict[str, Any] | None = None) -> Any:
        """Append an event (e.g. "partial" with {"text": ...}) to the job's event stream."""
        return self._dispatch(self._write(None, event(kind, **(data or {}))))

    def step(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `fn(*args, **kwargs)` once per job: a retry returns the stored JSON result."""
        _check_name(name)
        if threading.get_ident() == self._loop_thread:
            return self._step_async(name, fn, args, kwargs)
        with self._step_span(name) as span:
            stored = self._call_from_thread(self._step_get(name))
            if span is not None:
                span.set_attribute("job.step.reused", stored is not None)
            if stored is not None:
                return orjson.loads(stored)
            result = fn(*args, **kwargs)
            self._call_from_thread(self._step_put(name, result))
            return result

    def wait_for(self, name: str, timeout_s: float = WAIT_DEFAULT_S) -> Any:
        """The JSON body of signal `name` (`POST /jobs/{id}/signals/{name}`).

        If it has come, it is returned at once (and kept as the step `wait:{name}`, so a
        replay from a later step gets it again). Otherwise the attempt is parked: the job
        becomes `waiting`, the worker's slot is freed, and when the signal arrives the task
        runs again from the top (its steps return their stored results) and this call
        returns the signal. When `timeout_s` passes first, it raises `WaitTimeout`.
        """
        _check_name(name)
        if timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        return self._dispatch(self._wait_for(name, timeout_s))

    async def _wait_for(self, name: str, timeout_s: float) -> Any:
        step = f"wait:{name}"
        stored = await self._step_get(step)
        if stored is not None:
            return orjson.loads(stored)
        body: bytes | None = await self._ops.redis.hget(self.keys.signals(self.job_id), name)
        if body is None:
            raise Suspend(name, time.time() + timeout_s)
        if body == WAIT_TIMEOUT:
            raise WaitTimeout(name)
        value = orjson.loads(body)
        await self._step_put(step, value)
        self.log.info("signal %s received", name)
        return value

    def _step_span(self, name: str) -> AbstractContextManager[Span | None]:
        """The step's span (within the attempt's), or nothing while tracing is off."""
        return tracing.span(f"step {name}", {"job.id": self.job_id, "job.attempt": self.attempt,
                                             "job.step": name})

    # -- internals --------------------------------------------------------------

    def _dispatch(self, coro: Coroutine[Any, Any, T]) -> Any:
        if threading.get_ident() == self._loop_thread:
            return coro
        return self._call_from_thread(coro)

    def _call_from_thread(self, coro: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(_THREAD_CALL_TIMEOUT_S)

    async def _progress(self, percent: int, message: str | None) -> None:
        rec = self.record
        percent = max(rec["progress"], min(100, max(0, int(percent))))
        if percent == rec["progress"] and message == rec["message"]:
            return
        rec["progress"], rec["message"] = percent, message
        await self._write(rec, event("progress", progress=percent, message=message))

    async def _write(self, record: dict[str, Any] | None, event_json: str) -> None:
        if self._outbox is None:
            await self._started()
            self._fenced(await self._ops.progress(self._env, self._worker_id, record, event_json))
            return
        if self._stale:
            self._fenced(Fenced.STALE)
        self._pending.append(event_json)
        self._pending_record |= record is not None
        self._outbox.mark(self)

    def confirm(self, started: bool) -> None:
        """The answer to the attempt's start (see `_start`)."""
        if not self._start.done():
            self._start.set_result(started)
        self._stale |= not started

    @property
    def start_known(self) -> bool:
        """The answer to the attempt's start has come."""
        return self._start.done()

    @property
    def refused(self) -> bool:
        """The attempt's start was refused: the job never ran here, as far as anyone knows."""
        return self._start.done() and not self._start.result()

    async def _started(self) -> None:
        """Wait until the attempt's start is written; StaleAttempt if it was refused."""
        if not self._start.done():
            await asyncio.shield(self._start)
        self._fenced(Fenced.OK if self._start.result() else Fenced.STALE)

    def take_pending(self) -> Pending | None:
        """The pending events (emptied), with the record if progress changed it; none
        before the attempt's start is written (they wait for the next tick)."""
        if not self._pending:
            return None
        if not self._start.done():
            if self._outbox is not None:
                self._outbox.mark(self)  # the next tick
            return None
        if not self._start.result():  # the job did not start here: nothing to say
            self._pending = []
            return None
        events, self._pending = self._pending, []
        record = self.record if self._pending_record else None
        self._pending_record = False
        return self._env, record, events

    def put_back(self, pending: Pending) -> None:
        """Events `take_pending` gave that Redis did not take: first in line again."""
        _, record, events = pending
        self._pending[:0] = events
        self._pending_record |= record is not None

    def take_call(self) -> Call[Fenced] | None:
        """The fenced write of the pending events (and the record, if progress changed it)."""
        pending = self.take_pending()
        if pending is None:
            return None
        env, record, events = pending
        return self._ops.progress(env, self._worker_id, record, *events)

    def settle(self, code: Fenced) -> None:
        """The answer to a write `take_call` made: a refusal makes the next write raise."""
        if code is not Fenced.OK:
            if not self._stale:  # these events are dropped: say so once
                self.log.warning("job %s attempt %d: events refused (%s): the attempt no longer "
                                 "owns the job", self.job_id, self.attempt, code.name)
            self._stale = True

    def _fenced(self, code: Fenced) -> None:
        if code is not Fenced.OK:
            raise StaleAttempt(f"job {self.job_id} attempt {self.attempt} no longer belongs to "
                               f"{self._worker_id}")

    async def _step_get(self, name: str) -> bytes | None:
        result: bytes | None = await self._ops.redis.hget(self.keys.steps(self.job_id), name)
        return result

    async def _step_put(self, name: str, result: Any) -> None:
        await self._started()
        self._fenced(await self._ops.step(self._env, self._worker_id, name, orjson.dumps(result)))

    async def _step_async(self, name: str, fn: Callable[..., Any], args: tuple[Any, ...],
                          kwargs: dict[str, Any]) -> Any:
        with self._step_span(name) as span:
            stored = await self._step_get(name)
            if span is not None:
                span.set_attribute("job.step.reused", stored is not None)
            if stored is not None:
                self.log.info("step %s: reusing the stored result", name)
                return orjson.loads(stored)
            started = time.monotonic()
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            await self._step_put(name, result)
            self.log.info("step %s done in %.2fs", name, time.monotonic() - started)
            return result


def _check_name(name: str) -> None:
    """Step and signal names: 1–200 characters, no newline, not starting with NUL."""
    if not name or len(name) > 200 or "\n" in name or name.startswith("\0"):
        raise ValueError(f"invalid step or signal name {name[:50]!r}: 1–200 characters, "
                         "no newline")
