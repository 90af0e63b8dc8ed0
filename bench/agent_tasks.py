"""The agent-shaped load's task, loaded with `--tasks bench.agent_tasks`.

`bench_agent` streams one chat completion from the LLM server of `LLM_BASE_URL` (the
fake one `bench/agent_load.py` starts) and emits each streamed piece as a `partial`
event: the fake server sends 5 pieces a second for D seconds, so a job emits 5 events
a second. It goes through the worker's own LLM client (`llm_for(ctx)`), as shipped;
with `BENCH_LLM_POOL=unbounded` it uses the same client with an HTTP connection pool
of no fixed size (httpx's default pool, which the shipped client keeps, holds 100).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from src.worker import JobContext, task
from src.worker.llm import LLM, ChatRequest, LLMSettings, OpenAICompatible, llm_for

_unbounded: dict[int, LLM] = {}


class AgentInput(BaseModel):
    prompt: str = Field("Write a long answer.", max_length=2000)


def _llm(ctx: JobContext) -> LLM:
    import asyncio
    import os

    if os.environ.get("BENCH_LLM_POOL") != "unbounded":
        return llm_for(ctx)
    loop = id(asyncio.get_running_loop())
    if loop not in _unbounded:
        import httpx

        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        transport = httpx.AsyncHTTPTransport(limits=limits)
        _unbounded[loop] = LLM(OpenAICompatible(LLMSettings.from_env(), transport=transport))
    return _unbounded[loop]


@task("bench_agent", input=AgentInput, max_attempts=1, timeout_s=3600)
async def bench_agent(ctx: JobContext, data: AgentInput) -> dict[str, Any]:
    request = ChatRequest(messages=[{"role": "user", "content": data.prompt}], max_tokens=4000)
    events = 0
    async for piece in _llm(ctx).stream(request):
        await ctx.emit("partial", {"text": piece})
        events += 1
    return {"events": events}
