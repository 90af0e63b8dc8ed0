"""Tasks the worker tests load with `--tasks tests.worker.sample_tasks`."""

import asyncio
import time

from pydantic import BaseModel

from src.worker import JobContext, Retry, task


class Seconds(BaseModel):
    seconds: float = 1.0


@task("slow_sync", input=Seconds, timeout_s=30)
def slow_sync(ctx: JobContext, data: Seconds) -> dict:
    for i in range(1, 5):
        time.sleep(data.seconds / 4)
        ctx.progress(i * 25, f"quarter {i}")
    return {"thread": True}


@task("hang", input=Seconds, timeout_s=0.5, max_attempts=1)
async def hang(ctx: JobContext, data: Seconds) -> None:
    await asyncio.sleep(3600)


class BadStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


@task("bad_str", max_attempts=1)
async def bad_str(ctx: JobContext, data: dict) -> None:
    raise BadStr()


@task("retry_later", max_attempts=3)
async def retry_later(ctx: JobContext, data: dict) -> dict:
    if ctx.attempt == 1:
        raise Retry(after_s=0.5)
    return {"attempt": ctx.attempt}


@task("counted", input=Seconds, max_attempts=5, timeout_s=60)
async def counted(ctx: JobContext, data: Seconds) -> dict:
    """Counts its executions in Redis, then takes `seconds` with progress."""
    await ctx.redis.incr(f"{ctx.keys.prefix}:runs:{ctx.job_id}")
    for i in range(1, 11):
        await asyncio.sleep(data.seconds / 10)
        await ctx.progress(i * 10, f"tick {i}")
    return {"attempt": ctx.attempt}


@task("until_cancelled", max_attempts=1, timeout_s=60)
async def until_cancelled(ctx: JobContext, data: dict) -> None:
    await ctx.progress(5, "waiting to be cancelled")
    while True:
        await asyncio.sleep(0.05)


@task("stubborn", timeout_s=0.5, max_attempts=1)
async def stubborn(ctx: JobContext, data: dict) -> None:
    """Ignores cancellation for ~20 s: only the watchdog can end this attempt."""
    for _ in range(400):
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            pass


@task("hung_thread", timeout_s=0.5, max_attempts=1)
def hung_thread(ctx: JobContext, data: dict) -> None:
    time.sleep(20)
