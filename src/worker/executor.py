"""Running one attempt of a task: input validation, timeout, and what its end means.

Each attempt runs in the job's log scope (its lines carry `job_id`, `attempt`, `worker`
and `trace_id`) and, with tracing on, continues the job's trace: a span for the queue
wait (from `enqueued_at` to the start) and one for the attempt, under which the task's
steps and model calls nest.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from opentelemetry import trace
from pydantic import ValidationError

from src.queue import logs, tracing
from src.queue.errors import StaleAttempt
from src.queue.models import Envelope, error
from src.queue.registry import Registry

from .errors import BudgetExceeded, Fatal, Retry, Suspend, WaitTimeout
from .outcome import Outcome, Running, describe


def will_retry(env: Envelope, out: Outcome) -> bool:
    """Whether this outcome schedules another attempt."""
    return out.kind in ("fail", "retry") and out.retryable and env.attempt < env.max_attempts


def outcome_name(env: Envelope, out: Outcome) -> str:
    """What became of the attempt, as logs and spans name it."""
    if out.kind == "ok":
        return "succeeded"
    if will_retry(env, out):
        return "retrying"
    return {"cancelled": "cancelled", "putback": "put back", "stale": "stale",
            "wait": "waiting"}.get(out.kind, "failed")


async def run_attempt(run: Running, registry: Registry) -> Outcome:
    """Run the task of `run` to its outcome; never raises (but for our own cancellation)."""
    env = run.env
    with logs.job_scope(job_id=env.id, attempt=env.attempt, worker=run.ctx.worker_id,
                        trace_id=tracing.trace_id_of(env.traceparent)):
        if not tracing.enabled():
            return await _run(run, registry)
        return await _traced(run, registry)


async def _traced(run: Running, registry: Registry) -> Outcome:
    env, tracer = run.env, tracing.tracer()
    parent = tracing.context_of(env.traceparent)
    attrs: dict[str, Any] = {"job.id": env.id, "job.type": env.type, "job.attempt": env.attempt,
                             "job.queue": env.queue}
    now_ns = time.time_ns()
    wait = tracer.start_span(f"wait {env.queue}", context=parent, attributes=attrs,
                             start_time=min(now_ns, int(env.enqueued_at * 1e9)))
    wait.end(end_time=now_ns)
    with tracer.start_as_current_span(
            f"run {env.type}", context=parent, kind=trace.SpanKind.CONSUMER,
            attributes={**attrs, "job.max_attempts": env.max_attempts, "worker.id":
                        run.ctx.worker_id}, start_time=now_ns,
            record_exception=False, set_status_on_exception=False) as span:
        out = await _run(run, registry)
        span.set_attribute("job.outcome", outcome_name(env, out))
        if out.error is not None:
            span.set_attribute("error.type", out.error["type"])
            if out.kind != "cancelled":
                span.set_status(trace.StatusCode.ERROR, out.error["message"][:500])
        return out


async def _run(run: Running, registry: Registry) -> Outcome:
    env, ctx = run.env, run.ctx
    taskdef = registry.get(env.type)
    if taskdef is None:
        return Outcome("fail", error=error("invalid", f"unknown task type {env.type!r}"))
    try:
        data = taskdef.input.model_validate(env.payload) if taskdef.input else env.payload
    except ValidationError as exc:
        return Outcome("fail", error=error("invalid", f"invalid payload: {exc}"))
    ctx.usage.max_tokens = ctx.usage.max_tokens or taskdef.max_tokens  # the job's, else the task's
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
    except asyncio.CancelledError:
        if run.stop_reason == "cancel":
            return Outcome("cancelled", error=error("cancelled", "cancelled by request"))
        if run.stop_reason == "shutdown":
            return Outcome("putback")
        raise
    except (Exception, Suspend, SystemExit, KeyboardInterrupt) as exc:  # task code must not
        return _ended_by(exc, timeout)                                    # stop us


def _ended_by(exc: BaseException, timeout: float) -> Outcome:
    """The outcome of an attempt whose task raised `exc`."""
    if isinstance(exc, TimeoutError):
        return Outcome("fail", error=error("timeout", f"timed out after {timeout:g}s"),
                       retryable=True)
    if isinstance(exc, Retry):
        return Outcome("retry", error=error("exception", describe(exc)), retryable=True,
                       after_s=exc.after_s)
    if isinstance(exc, StaleAttempt):
        return Outcome("stale")
    if isinstance(exc, Suspend):
        return Outcome("wait", wait=(exc.name, exc.until))
    if isinstance(exc, WaitTimeout):
        return Outcome("fail", error=error("timeout", describe(exc)))
    if isinstance(exc, BudgetExceeded):  # no retry either: it would pass the budget again
        return Outcome("fail", error=error("budget", describe(exc)))
    if isinstance(exc, Fatal):  # the task's own words: "rejected: too long", not "Fatal: ..."
        return Outcome("fail", error=error("exception", describe(exc).removeprefix("Fatal: ")))
    return Outcome("fail", error=error("exception", describe(exc)), retryable=True)
