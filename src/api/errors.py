"""Exception handlers: the queue's errors become 404, 409 and 503 (with Retry-After).

503 covers every way Redis can be out of reach for a while: refused or timed-out
connections, a cluster in failover (CLUSTERDOWN, TRYAGAIN, READONLY, MASTERDOWN, an
uncovered slot) and refused credentials; the last says so, without the password.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from redis import exceptions as redis_errors
from starlette.exceptions import HTTPException as StarletteHTTPException

from src.queue import JobConflict, JobNotFound, RedisUnavailable
from src.queue.errors import FAILOVER_ERRORS, RedisAuthFailed

log = logging.getLogger("agentq.api")

_UNPARSABLE_BODY = "There was an error parsing the body"
AUTH_FAILED_DETAIL = (
    "Redis authentication failed: the server refused the credentials (wrong or missing "
    "password in REDIS_URL)"
)
UNAVAILABLE_DETAIL = "Redis is unavailable; try again shortly"

#: redis-py errors that mean "not now" and reach a handler without passing through the
#: queue's translation: connections, timeouts, and a Redis Cluster in failover.
REDIS_DOWN: tuple[type[Exception], ...] = (
    redis_errors.ConnectionError, redis_errors.TimeoutError, *FAILOVER_ERRORS)
#: refused credentials: translated, or raw from redis-py
AUTH_FAILED = (
    RedisAuthFailed,
    redis_errors.AuthenticationError,
    redis_errors.AuthenticationWrongNumberOfArgsError,
)


def _finite(value: Any) -> Any:
    """NaN and infinities (which JSON lacks) as strings, anywhere in `value`."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class _AsciiJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(_finite(content), ensure_ascii=True, separators=(",", ":")).encode()


def validation_error(
    loc: tuple[str | int, ...], msg: str, value: Any, kind: str = "value_error"
) -> RequestValidationError:
    """A 422 naming one field, in FastAPI's own shape."""
    return RequestValidationError([{"type": kind, "loc": loc, "msg": msg, "input": value}])


def unstorable(loc: tuple[str | int, ...], exc: Exception) -> RequestValidationError:
    """A 422 for JSON that parsed but cannot be stored (nested deeper than 255 levels,
    integers beyond 64 bits, lone surrogates)."""
    return validation_error(loc, f"cannot be stored as JSON: {exc}", None, "json_invalid")


def prefixed_errors(exc: ValidationError, *prefix: str | int) -> RequestValidationError:
    """A pydantic error of a nested model as a 422 whose `loc` starts with `prefix`."""
    errors = []
    for detail in exc.errors(include_url=False):
        err: dict[str, Any] = dict(detail)
        err["loc"] = (*prefix, *err["loc"])
        if "ctx" in err:
            err["ctx"] = {
                k: v if isinstance(v, str | int | float | bool | None) else str(v)
                for k, v in err["ctx"].items()
            }
        errors.append(err)
    return RequestValidationError(errors)


def install(app: FastAPI, retry_after_s: int) -> None:
    def answer_503(detail: str) -> JSONResponse:
        return JSONResponse({"detail": detail}, 503, headers={"Retry-After": str(retry_after_s)})

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning(
            "Redis unavailable during %s %s: %s",
            request.method,
            request.url.path,
            str(exc) or type(exc).__name__,
        )
        return answer_503(UNAVAILABLE_DETAIL)

    async def auth_failed(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "Redis refused the credentials during %s %s (wrong or missing password)",
            request.method,
            request.url.path,
        )
        return answer_503(AUTH_FAILED_DETAIL)

    async def not_found(request: Request, exc: JobNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 404)

    async def conflict(request: Request, exc: JobConflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 409)

    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # FastAPI answers 400 for a JSON body it cannot decode (not UTF-8): say 422, as for
        # any other malformed JSON, naming the body.
        if exc.status_code == 400 and exc.detail == _UNPARSABLE_BODY:
            return JSONResponse(
                {
                    "detail": [
                        {
                            "type": "json_invalid",
                            "loc": ["body"],
                            "msg": "body is not valid UTF-8 JSON",
                            "input": None,
                        }
                    ]
                },
                422,
            )
        return await http_exception_handler(request, exc)

    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # As FastAPI's own handler, but ASCII-escaped: a 422 echoes the bad input, and JSON
        # input may hold lone surrogates that UTF-8 cannot encode.
        return _AsciiJSONResponse({"detail": jsonable_encoder(exc.errors())}, 422)

    # The ignores: Starlette types every handler as taking `Exception`, not the class it is
    # registered for, so a handler of one class does not match its stub.
    app.add_exception_handler(RequestValidationError, invalid)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RedisUnavailable, unavailable)
    for error in REDIS_DOWN:
        app.add_exception_handler(error, unavailable)
    # The handler of the most specific class wins: AuthenticationError is a ConnectionError.
    for error in AUTH_FAILED:
        app.add_exception_handler(error, auth_failed)
    app.add_exception_handler(JobNotFound, not_found)  # type: ignore[arg-type]
    app.add_exception_handler(JobConflict, conflict)  # type: ignore[arg-type]
