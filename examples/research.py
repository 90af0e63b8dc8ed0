"""research: the README's "Write a task" example, complete and runnable offline.

From the repository root, start everything with it (the API imports the module too, to
validate payloads), or one worker alone:

    AGENTQ_TASK_MODULES=examples.research make run
    .venv/bin/python -m src.worker --tasks examples.research

and submit a job:

    curl -s -X POST http://127.0.0.1:8000/jobs -H 'content-type: application/json' \\
      -d '{"type": "research", "payload": {"question": "Why is the sky blue?"}}'

`make_plan`, `look_up` and `summarise` are small offline stand-ins so the example needs
no network and no model: a real agent would ask a model for the plan, search the web or
ask a model for each item, and ask a model for the summary. Replace them; the task body
stays as it is.
"""

from __future__ import annotations

import asyncio
import re

from pydantic import BaseModel, Field

from src.worker import JobContext, task

#: How long one offline look-up takes, so the progress bar can be watched moving.
LOOK_UP_S = 0.3

#: What the offline `look_up` knows, by keyword.
FACTS = {
    "sky": "The sky's colour is sunlight scattered by the molecules of the air "
    "(Rayleigh scattering).",
    "blue": "Air scatters short wavelengths most, about as the inverse fourth power of the "
    "wavelength, so blue light is scattered several times more than red.",
    "sunset": "At sunset the light crosses far more air: the blue is scattered away on the "
    "way and the reds and oranges remain.",
    "tides": "Tides are raised mostly by the Moon's gravity, which pulls the near side of "
    "the ocean harder than the Earth and the Earth harder than the far side.",
    "moon": "The Moon is about 384,000 km away and keeps the same face towards the Earth.",
    "redis": "Redis keeps its data in memory and runs each command, and each Lua script, "
    "atomically.",
    "queue": "A job queue lets producers hand work to workers that run it later, at their "
    "own pace.",
}

#: Words that make no useful look-up.
STOPWORDS = frozenset(
    "a an and are at be by can do does for from how in is it its of on or so that the "
    "this to was what when where which who why will with work works".split()
)


class Input(BaseModel):
    question: str = Field(min_length=1, max_length=500, examples=["Why is the sky blue?"])


def make_plan(question: str) -> list[str]:
    """The items to look up: the question's key words, at most four, in order."""
    words = [w for w in re.findall(r"[a-z0-9]+", question.lower()) if w not in STOPWORDS]
    return list(dict.fromkeys(words))[:4] or [question.strip().lower()]


async def look_up(item: str) -> str:
    """One note about `item` (a real agent would search or ask a model here)."""
    await asyncio.sleep(LOOK_UP_S)
    fact = FACTS.get(item) or FACTS.get(item.rstrip("s")) or FACTS.get(item + "s")
    return f"{item}: {fact or 'nothing found offline.'}"


def summarise(notes: list[str]) -> str:
    """The answer: what the look-ups found, or a plain admission that they found nothing."""
    found = [n.split(": ", 1)[1] for n in notes if not n.endswith("nothing found offline.")]
    if not found:
        return "The offline notes know nothing about this; plug in a real look-up."
    return " ".join(found)


@task("research", input=Input, timeout_s=600, max_attempts=3)
async def research(ctx: JobContext, data: Input) -> dict:
    await ctx.progress(10, "Planning")
    plan = await ctx.step("plan", make_plan, data.question)  # durable: kept across retries
    notes: list[str] = []
    for i, item in enumerate(plan, 1):
        if ctx.cancelled:  # POST /jobs/{id}/cancel
            break
        notes.append(await ctx.step(f"look-up-{i}", look_up, item))
        await ctx.progress(10 + 80 * i // len(plan), f"Looked up {i} of {len(plan)}")
        await ctx.emit("partial", {"text": notes[-1][:200] + "\n"})  # streamed to the page
    await ctx.progress(100, "Summarised")
    return {"answer": summarise(notes), "notes": notes}
