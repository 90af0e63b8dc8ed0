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


# -- waits for signals, and replay ------------------------------------------------------

async def _side_effect(ctx: JobContext, name: str) -> str:
    """A step body whose runs are counted in Redis (the test reads the counter)."""
    await ctx.redis.incr(f"test:{ctx.job_id}:{name}")
    return name


@task("review_flow", max_attempts=1, timeout_s=30)
async def review_flow(ctx: JobContext, data: dict) -> dict:
    """draft → wait for `approve` → publish; `pre_s` sleeps before the wait."""
    draft = await ctx.step("draft", _side_effect, ctx, "draft")
    await asyncio.sleep(data.get("pre_s", 0))
    decision = await ctx.wait_for("approve", timeout_s=data.get("wait_s", 60))
    published = await ctx.step("publish", _side_effect, ctx, "publish")
    return {"decision": decision, "steps": [draft, published], "attempt": ctx.attempt}


@task("review_or_give_up", max_attempts=1, timeout_s=30)
async def review_or_give_up(ctx: JobContext, data: dict) -> dict:
    """Like review_flow, but a wait that runs out is caught."""
    from src.worker import WaitTimeout

    try:
        return {"decision": await ctx.wait_for("approve", timeout_s=data.get("wait_s", 1))}
    except WaitTimeout:
        return {"decision": None, "timed_out": True}


@task("three_steps", max_attempts=1, timeout_s=30)
async def three_steps(ctx: JobContext, data: dict) -> dict:
    """Three counted steps; the last one shows the payload's `tone`."""
    out = [await ctx.step(f"s{i}", _side_effect, ctx, f"s{i}") for i in (1, 2, 3)]
    return {"steps": out, "tone": data.get("tone")}


@task("sync_review", max_attempts=1, timeout_s=30)
def sync_review(ctx: JobContext, data: dict) -> dict:
    """A sync task (in a thread) that waits for a signal."""
    return {"decision": ctx.wait_for("approve", timeout_s=60)}
