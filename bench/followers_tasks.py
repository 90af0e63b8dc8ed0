"""The followers benchmark's task, loaded with `--tasks bench.followers_tasks`.

`bench_follow` reports like an agent writing a text: a partial text 3 times a second
and a progress event every second, for `seconds`, starting `offset_s` late (so that the
jobs of one run do not all write in the same millisecond).
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

from src.worker import JobContext, task

_WORDS = ("the queue hands each event to every viewer of its job, once read "
          "from the stream, and a slow viewer reads again from its last id ").split()


class FollowInput(BaseModel):
    seconds: float = Field(15, gt=0, le=600)
    offset_s: float = Field(0, ge=0, le=5)


@task("bench_follow", input=FollowInput, max_attempts=1, timeout_s=700)
async def bench_follow(ctx: JobContext, data: FollowInput) -> dict[str, int]:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(data.offset_s)
    start = loop.time()
    ticks = max(3, int(data.seconds * 3))
    for i in range(1, ticks + 1):
        await asyncio.sleep(max(0.0, start + i / 3 - loop.time()))
        words = " ".join(_WORDS[(i * 7 + k) % len(_WORDS)] for k in range(6))
        await ctx.emit("partial", {"text": words + " "})
        if i % 3 == 0:
            await ctx.progress(min(99, i * 100 // ticks), f"second {i // 3}")
    return {"ticks": ticks}
