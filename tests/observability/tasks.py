"""Tasks of the observability tests: a job that fails once (with steps and a model call)."""

from __future__ import annotations

from typing import Any

from src.worker import JobContext, task
from src.worker.llm import ChatRequest, LLMSettings, llm_for

_OFFLINE = LLMSettings.from_env({"LLM_OFFLINE_DELAY_S": "0"})  # offline, no wait


@task("obs_flaky", max_attempts=3, timeout_s=30)
async def obs_flaky(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """Step `fetch` runs once (attempt 2 reuses it); attempt 1 fails, attempt 2 asks the model."""
    fetched = await ctx.step("fetch", lambda: {"n": 1})
    ctx.log.info("fetched %s", fetched)
    if ctx.attempt == 1:
        raise RuntimeError("the first attempt fails")
    answer = await llm_for(ctx, _OFFLINE).complete(
        ChatRequest([{"role": "user", "content": "How are you today?"}], max_tokens=50))
    summary = await ctx.step("summarise", lambda: {"chars": len(answer.text)})
    return {"attempt": ctx.attempt, **summary}


@task("obs_sync", max_attempts=1, timeout_s=30)
def obs_sync(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """A sync task: its step runs in the task's thread."""
    return ctx.step("thread_step", lambda: {"ok": True})


@task("obs_fails", max_attempts=1, timeout_s=30)
async def obs_fails(ctx: JobContext, data: dict[str, Any]) -> None:
    raise ValueError("always")
