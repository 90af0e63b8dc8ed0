"""JobContext: what a running task sees of its job (progress, events, steps, cancel)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from src.queue import scripts
from src.queue.client import EVENTS_MAX
from src.queue.errors import StaleAttempt
from src.queue.models import Envelope, dumps, event

if TYPE_CHECKING:
    from .runtime import Worker

T = TypeVar("T")
_THREAD_CALL_TIMEOUT_S = 60.0

log = logging.getLogger("agentq.worker")


class JobContext:
    """Handed to every task as its first argument.

    The methods that touch Redis are coroutines when called on the event loop (await
    them) and plain blocking calls when called from a sync task's thread.
    """

    def __init__(self, worker: Worker, env: Envelope, record: dict[str, Any]) -> None:
        self._worker = worker
        self._env = env
        self.record = record
        self._cancelled = False
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self.log = logging.LoggerAdapter(log, {"job_id": env.id, "attempt": env.attempt})

    # -- identity ---------------------------------------------------------------

    @property
    def job_id(self) -> str:
        return self._env.id

    @property
    def attempt(self) -> int:
        return self._env.attempt

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
        return self._worker.redis

    @property
    def keys(self) -> Any:
        return self._worker.keys

    @property
    def cancelled(self) -> bool:
        """True once a cancel was requested for this job; stop as soon as you can."""
        return self._cancelled

    # -- writes -----------------------------------------------------------------

    def progress(self, percent: int, message: str | None = None) -> Any:
        """Report progress 0–100 (never goes down within an attempt) and a step message."""
        return self._dispatch(self._progress(percent, message))

    def emit(self, kind: str, data: dict[str, Any] | None = None) -> Any:
        """Append an event (e.g. "partial" with {"text": ...}) to the job's event stream."""
        return self._dispatch(self._write(None, event(kind, **(data or {}))))

    def step(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `fn(*args, **kwargs)` once per job: a retry returns the stored JSON result."""
        if threading.get_ident() == self._loop_thread:
            return self._step_async(name, fn, args, kwargs)
        stored = self._call_from_thread(self._step_get(name))
        if stored is not None:
            return orjson.loads(stored)
        result = fn(*args, **kwargs)
        self._call_from_thread(self._step_put(name, result))
        return result

    # -- internals --------------------------------------------------------------

    def _dispatch(self, coro: Awaitable[T]) -> Any:
        if threading.get_ident() == self._loop_thread:
            return coro
        return self._call_from_thread(coro)

    def _call_from_thread(self, coro: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(_THREAD_CALL_TIMEOUT_S)  # type: ignore[arg-type]

    async def _progress(self, percent: int, message: str | None) -> None:
        rec = self.record
        percent = max(rec["progress"], min(100, max(0, int(percent))))
        if percent == rec["progress"] and message == rec["message"]:
            return
        rec["progress"], rec["message"] = percent, message
        await self._write(dumps(rec), event("progress", progress=percent, message=message))

    async def _write(self, record_json: str | None, event_json: str) -> None:
        w, env = self._worker, self._env
        code = await scripts.run(
            w.redis, "progress", [w.keys.job(env.id), w.keys.events(env.id)],
            [env.attempt, w.id, record_json or "", w.settings.job_ttl_s, event_json, EVENTS_MAX],
        )
        if code != scripts.Code.OK:
            raise StaleAttempt(f"job {env.id} attempt {env.attempt} no longer belongs to {w.id}")

    async def _step_get(self, name: str) -> bytes | None:
        return await self._worker.redis.hget(self._worker.keys.steps(self.job_id), name)

    async def _step_put(self, name: str, result: Any) -> None:
        key = self._worker.keys.steps(self.job_id)
        async with self._worker.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, name, orjson.dumps(result))
            pipe.expire(key, self._worker.settings.job_ttl_s)
            await pipe.execute()

    async def _step_async(self, name: str, fn: Callable[..., Any], args: tuple[Any, ...],
                          kwargs: dict[str, Any]) -> Any:
        stored = await self._step_get(name)
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
