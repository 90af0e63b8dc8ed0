"""Errors of the queue core.

    QueueError
    ├── JobNotFound          no record under that id (unknown or expired)       → HTTP 404
    ├── JobConflict          the job is not in a state that allows the request  → HTTP 409
    ├── StaleAttempt         a fenced write from an attempt that no longer owns the job
    ├── ScriptError          a Lua script answered with a code we do not know
    └── RedisUnavailable     Redis did not answer (connection refused, timeout) → HTTP 503
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from redis import exceptions as redis_errors


class QueueError(Exception):
    """Base class of every error the queue core raises."""


class JobNotFound(QueueError):
    """No record under that id: it never existed or its TTL ran out."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} not found")
        self.job_id = job_id


class JobConflict(QueueError):
    """The job's status does not allow the request (cancel a finished job, retry a running one)."""

    def __init__(self, job_id: str, status: str, action: str) -> None:
        super().__init__(f"cannot {action} job {job_id}: it is {status}")
        self.job_id, self.status, self.action = job_id, status, action


class StaleAttempt(QueueError):
    """A worker wrote for an attempt that no longer owns the job (it was recovered or cancelled)."""


class ScriptError(QueueError):
    """A Lua script returned a code the caller does not understand."""


class RedisUnavailable(QueueError):
    """Redis did not answer: the caller should retry later."""


_UNAVAILABLE = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)


@contextmanager
def translate_redis_errors() -> Iterator[None]:
    """Turn redis-py's connection failures into `RedisUnavailable` at the one boundary."""
    try:
        yield
    except _UNAVAILABLE as exc:
        raise RedisUnavailable(str(exc) or type(exc).__name__) from exc


@asynccontextmanager
async def atranslate_redis_errors() -> AsyncIterator[None]:
    with translate_redis_errors():
        yield
