"""Tasks the reliability tests load with `--tasks tests.reliability.tasks`.

Each task that matters for delivery counts its executions in Redis
(`{ns}:exec:{id}`, one INCR per attempt that starts), so a test can tell duplicates
(at-least-once re-runs) from losses.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from pydantic import BaseModel, Field

from src.worker import JobContext, task


def exec_key(prefix: str, job_id: str) -> str:
    return f"{prefix}:exec:{job_id}"


class Millis(BaseModel):
    ms: int = Field(100, ge=0, le=600_000)
    steps: int = Field(2, ge=1, le=100)


@task("chaos", input=Millis, timeout_s=60, max_attempts=25)
async def chaos(ctx: JobContext, data: Millis) -> dict[str, Any]:
    """Counts its execution, then takes `ms` milliseconds with `steps` progress reports."""
    await ctx.redis.incr(exec_key(ctx.keys.prefix, ctx.job_id))
    for step in range(1, data.steps + 1):
        await asyncio.sleep(data.ms / 1000 / data.steps)
        await ctx.progress(step * 100 // data.steps, f"step {step}")
    return {"ms": data.ms, "attempt": ctx.attempt}


@task("blocks_loop", input=Millis, timeout_s=1, max_attempts=1)
async def blocks_loop(ctx: JobContext, data: Millis) -> None:
    """A badly written async task: blocks the event loop (no await) for `ms`."""
    await ctx.redis.incr(exec_key(ctx.keys.prefix, ctx.job_id))
    time.sleep(data.ms / 1000)


@task("ignores_cancel", input=Millis, timeout_s=1, max_attempts=1)
async def ignores_cancel(ctx: JobContext, data: Millis) -> None:
    """Swallows every cancellation (its timeout included) and goes on for `ms`."""
    await ctx.redis.incr(exec_key(ctx.keys.prefix, ctx.job_id))
    deadline = time.monotonic() + data.ms / 1000
    while time.monotonic() < deadline:
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            continue


@task("hangs_thread", input=Millis, timeout_s=1, max_attempts=1)
def hangs_thread(ctx: JobContext, data: Millis) -> None:
    """A sync task whose thread hangs for `ms` (threads cannot be interrupted)."""
    time.sleep(data.ms / 1000)


@task("sync_ok", timeout_s=10, max_attempts=1)
def sync_ok(ctx: JobContext, data: dict[str, Any]) -> dict[str, bool]:
    return {"thread": True}


@task("exits", max_attempts=2, timeout_s=10)
async def exits(ctx: JobContext, data: dict[str, Any]) -> None:
    """Task code that calls sys.exit(): it must fail the job, not stop the worker."""
    await ctx.redis.incr(exec_key(ctx.keys.prefix, ctx.job_id))
    sys.exit(3)


@task("unserialisable", max_attempts=1, timeout_s=10)
async def unserialisable(ctx: JobContext, data: dict[str, Any]) -> Any:
    """Returns something JSON cannot hold."""
    return {"when": object()}


@task("huge_progress", max_attempts=1, timeout_s=10)
async def huge_progress(ctx: JobContext, data: dict[str, Any]) -> str:
    """Reports nonsense progress values and a long message."""
    await ctx.progress(-50, "x" * 100_000)
    await ctx.progress(10**9, None)
    return "ok"
