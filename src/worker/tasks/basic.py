"""The basic built-in tasks: add, echo, sleep, fail."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field

from src.queue.registry import task

from ..context import JobContext


class AddInput(BaseModel):
    x: int | float
    y: int | float


@task("add", input=AddInput, timeout_s=10)
async def add(ctx: JobContext, data: AddInput) -> int | float:
    return data.x + data.y


@task("echo", timeout_s=10)
async def echo(ctx: JobContext, data: Any) -> Any:
    return data


class SleepInput(BaseModel):
    seconds: float = Field(ge=0, le=3600)
    steps: int = Field(10, ge=1, le=1000)


@task("sleep", input=SleepInput, timeout_s=3700)
async def sleep(ctx: JobContext, data: SleepInput) -> dict[str, Any]:
    loop, every = asyncio.get_running_loop(), data.seconds / data.steps
    start = loop.time()
    for step in range(1, data.steps + 1):  # paced on the clock: writes do not add up
        await asyncio.sleep(max(0.0, start + step * every - loop.time()))
        await ctx.progress(step * 100 // data.steps, f"Step {step} of {data.steps}")
    return {"slept": data.seconds, "steps": data.steps}


class FailInput(BaseModel):
    times: int = Field(1, ge=0, le=1000)
    message: str = Field("failed on purpose", max_length=2000)


@task("fail", input=FailInput, timeout_s=10)
async def fail(ctx: JobContext, data: FailInput) -> dict[str, Any]:
    if ctx.attempt <= data.times:
        raise RuntimeError(data.message)
    return {"attempts": ctx.attempt}
