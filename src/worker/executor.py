"""Running one attempt of a task: input validation, timeout, and what its end means."""

from __future__ import annotations

import asyncio
import time

import orjson
from pydantic import ValidationError

from src.queue.errors import StaleAttempt
from src.queue.models import error
from src.queue.registry import Registry

from .errors import Fatal, Retry
from .outcome import Outcome, Running, describe


async def run_attempt(run: Running, registry: Registry) -> Outcome:
    """Run the task of `run` to its outcome; never raises (but for our own cancellation)."""
    env, ctx = run.env, run.ctx
    taskdef = registry.get(env.type)
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
        orjson.dumps(result)  # a result that cannot be stored fails here, not in the finisher
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
        return Outcome("retry", error=error("exception", describe(exc)), retryable=True,
                       after_s=exc.after_s)
    except StaleAttempt:
        return Outcome("stale")
    except Fatal as exc:
        return Outcome("fail", error=error("exception", describe(exc)))
    except (Exception, SystemExit, KeyboardInterrupt) as exc:  # task code must not stop us
        return Outcome("fail", error=error("exception", describe(exc)), retryable=True)
