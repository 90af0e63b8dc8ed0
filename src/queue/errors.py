"""Errors of the queue core.

    QueueError
    ├── JobNotFound          no record under that id (unknown or expired)       → HTTP 404
    ├── JobConflict          the job is not in a state that allows the request  → HTTP 409
    ├── StaleAttempt         a fenced write from an attempt that no longer owns the job
    ├── ScriptError          a Lua script answered with a code we do not know
    ├── UnknownTask          no task is registered under that name              → HTTP 422
    ├── InvalidPayload       the payload does not fit the task's input model    → HTTP 422
    ├── InvalidSchedule      a cron schedule that cannot run (a start-up error)
    └── RedisUnavailable     Redis did not answer (connection refused, timeout) → HTTP 503
        └── RedisAuthFailed  Redis refused the credentials (wrong or missing password)

A Redis Cluster in failover (CLUSTERDOWN, TRYAGAIN, READONLY, MASTERDOWN, an uncovered
slot) is `RedisUnavailable` too: it passes by itself, like a connection that was refused.
"""

from __future__ import annotations

from pydantic import ValidationError
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


class UnknownTask(QueueError, LookupError):
    """No task is registered under that name (in this process)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown task type {name!r}")
        self.name = name


class InvalidPayload(QueueError, ValueError):
    """A payload that does not fit its task's input model; `errors` are pydantic's, by field."""

    def __init__(self, type: str, exc: ValidationError) -> None:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "payload" for e in exc.errors())
        super().__init__(f"invalid payload for task {type!r}: {fields}: {exc.errors()[0]['msg']}")
        self.type = type
        self.validation_error = exc


class InvalidSchedule(QueueError, ValueError):
    """A schedule with a bad cron expression, time zone, payload or a name used twice."""


class RedisUnavailable(QueueError):
    """Redis did not answer: the caller should retry later."""


class RedisAuthFailed(RedisUnavailable):
    """Redis refused the credentials of REDIS_URL. The message never holds the password."""

    MESSAGE = "Redis refused the credentials (wrong or missing password)"

    def __init__(self, message: str = MESSAGE) -> None:
        super().__init__(message)


def _optional(*names: str) -> tuple[type[Exception], ...]:
    """The redis-py exception classes of `names` that this version of redis-py has."""
    found = (getattr(redis_errors, name, None) for name in names)
    return tuple(c for c in found if isinstance(c, type) and issubclass(c, Exception))


# Checked before _UNAVAILABLE: redis-py's AuthenticationError is a ConnectionError.
_AUTH_FAILED = _optional("AuthenticationError", "AuthenticationWrongNumberOfArgsError")
_AUTH_REPLIES = ("NOAUTH", "WRONGPASS")
#: A Redis Cluster in failover: it answers again once a replica is promoted.
FAILOVER_ERRORS = _optional(
    "ClusterDownError", "TryAgainError", "ReadOnlyError", "MasterDownError", "ClusterError",
    "SlotNotCoveredError",
)
_UNAVAILABLE = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError, *FAILOVER_ERRORS)


def is_auth_failure(exc: BaseException) -> bool:
    """Whether `exc` (from redis-py) means the server refused the credentials."""
    if isinstance(exc, (RedisAuthFailed, *_AUTH_FAILED)):
        return True
    return isinstance(exc, redis_errors.ResponseError) and str(exc).lstrip().upper().startswith(
        _AUTH_REPLIES
    )


class _Translation:
    """The context manager of `translate_redis_errors` and `atranslate_redis_errors`: a
    class (no generator to make and drive), as every call to Redis enters one."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:  # None: every exception goes on (translated or not)
        if exc is None or isinstance(exc, QueueError) or not isinstance(exc, Exception):
            return
        if is_auth_failure(exc):
            raise RedisAuthFailed() from exc
        if isinstance(exc, _UNAVAILABLE):
            raise RedisUnavailable(str(exc) or type(exc).__name__) from exc

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: object) -> None:
        self.__exit__(kind, exc, tb)


_TRANSLATION = _Translation()


def translate_redis_errors() -> _Translation:
    """Turn redis-py's connection failures into `RedisUnavailable` at the one boundary:
    refused credentials become `RedisAuthFailed`, a cluster in failover `RedisUnavailable`."""
    return _TRANSLATION


def atranslate_redis_errors() -> _Translation:
    """`translate_redis_errors` for `async with`."""
    return _TRANSLATION
