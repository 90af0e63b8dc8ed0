"""generate_article: a writing agent in durable steps (outline → sections → edit → title).

Each LLM call is one `ctx.step`, so a retry or a recovery after a lost worker resumes
after the last completed step and never pays for a finished call again. Text is
streamed from the model and sent on as "partial" events a few times a second, with a
progress message at every step; a cancel request stops the job between steps and in
the middle of a streamed section.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing
from typing import Any

from src.queue.registry import task

from ..context import JobContext
from ..errors import Fatal
from ..llm import LLM, ChatRequest, llm_for, offline
from .article_text import (
    ArticleInput,
    article_params,
    clean_section,
    count_words,
    edit_request,
    outline_request,
    parse_framing,
    parse_outline,
    parse_title,
    review_titles,
    section_request,
    title_request,
)

#: sections and words per section for each length
LENGTHS = {"short": (3, 120), "medium": (5, 150), "long": (7, 170)}
CONCLUSION = {"en": "Conclusion", "ko": "마치며", "de": "Fazit", "fr": "Conclusion",
              "es": "Conclusión", "it": "Conclusione", "pt": "Conclusão", "nl": "Conclusie",
              "ja": "まとめ", "zh": "结语"}
PARTIAL_EVERY_S = 0.3        # at most ~3 partial events a second
async def stream_text(ctx: JobContext, llm: LLM, request: ChatRequest, *, step: str,
                      progress: tuple[int, int], message: str, expected_words: int,
                      emit: bool = True) -> str:
    """The model's whole answer; meanwhile partial text and progress a few times a second."""
    low, high = progress
    parts: list[str] = []
    pending: list[str] = []
    last = time.monotonic()

    async def flush() -> None:
        nonlocal last
        last = time.monotonic()
        if emit and pending:
            await ctx.emit("partial", {"text": "".join(pending), "step": step})
        pending.clear()
        done = min(0.95, count_words("".join(parts)) / max(1, expected_words))
        await ctx.progress(low + int((high - low) * done), message)

    async with aclosing(llm.stream(request)) as stream:  # closes the connection on cancel
        async for piece in stream:
            if ctx.cancelled:
                raise asyncio.CancelledError(f"cancel requested during {step}")
            parts.append(piece)
            pending.append(piece)
            if time.monotonic() - last >= PARTIAL_EVERY_S:
                await flush()
    await flush()
    return "".join(parts)


def _check_cancel(ctx: JobContext, where: str) -> None:
    if ctx.cancelled:
        raise asyncio.CancelledError(f"cancel requested before {where}")


async def plan_outline(ctx: JobContext, llm: LLM, data: ArticleInput, language: str, count: int,
                       message: str) -> dict[str, Any]:
    """The outline step: `count` section titles (and their kinds for the offline provider)."""
    text = await stream_text(ctx, llm, outline_request(data, count), step="outline",
                             progress=(3, 9), emit=False, expected_words=8 * count,
                             message=message)
    titles = parse_outline(text, count)
    fallback = offline.outline(article_params(data, language=language, sections=count))
    for extra in fallback:  # a model that listed too few: fill in from the plan
        if len(titles) >= count:
            break
        if extra["title"] not in titles:
            titles.append(extra["title"])
    kinds = [s["kind"] for s in fallback] if llm.name == "offline" else [None] * count
    if data.review:  # for the page that shows the outline for approval
        await ctx.emit("outline", {"sections": titles[:count]})
    return {"sections": [{"title": t, "kind": k} for t, k in zip(titles, kinds, strict=False)],
            "provider": llm.name, "model": llm.model}


async def review_outline(ctx: JobContext, data: ArticleInput,
                         sections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sections a person approved: the job waits (`waiting`, no worker held) for the
    `approve` signal, then runs again from the top with its steps reused.

    `{}` or `{"approve": true}` keeps the outline, `{"outline": [titles]}` replaces it,
    `{"reject": "reason"}` fails the job for good ("rejected: reason").
    """
    await ctx.progress(10, "Outline ready: waiting for your approval")
    decision = await ctx.wait_for("approve", timeout_s=data.review_timeout_s)
    if isinstance(decision, dict) and "reject" in decision:
        reason = str(decision["reject"] or "").strip()[:500]
        raise Fatal(f"rejected: {reason}" if reason else "rejected")
    titles = review_titles(decision, [s["title"] for s in sections])
    if isinstance(titles, str):
        raise Fatal(f"invalid review of the outline: {titles}")
    # A section keeps its planned kind while its title is unchanged.
    planned = {s["title"]: s.get("kind") for s in sections}
    await ctx.progress(10, f"Outline approved: {len(titles)} sections")
    return [{"title": t, "kind": planned.get(t)} for t in titles]


# -- the task -------------------------------------------------------------------------

@task("generate_article", input=ArticleInput, timeout_s=900, max_attempts=3)
async def generate_article(ctx: JobContext, data: ArticleInput) -> dict[str, Any]:
    llm = llm_for(ctx)
    count, words = LENGTHS[data.length]
    language = data.language
    if llm.name == "offline" and language.split("-")[0] not in offline.LANGUAGES:
        ctx.log.info("the offline provider writes English, not %r", language)
        language = "en"
    total_steps = count + 3
    # The progress bar: outline 2-10, sections 12-80, edit 82-90, title 92-98. A task that
    # runs again after its review wait does not start the bar over.
    if not await ctx.redis.hexists(ctx.keys.steps(ctx.job_id), "outline"):
        await ctx.progress(2, f"Step 1 of {total_steps}: planning the outline")

    outline = await ctx.step("outline", plan_outline, ctx, llm, data, language, count,
                             f"Step 1 of {total_steps}: planning the outline")
    sections = outline["sections"]
    if data.review:
        sections = await review_outline(ctx, data, sections)
        count = len(sections)
        total_steps = count + 3
    else:
        await ctx.progress(10, f"Outline ready: {len(sections)} sections")
    titles = [s["title"] for s in sections]
    used = [outline]

    bodies: list[str] = []
    span = 68 / len(sections)
    for i, sec in enumerate(sections, 1):
        _check_cancel(ctx, f"section {i}")
        lo, hi = 12 + int(span * (i - 1)), 12 + int(span * i)
        message = f"Step {i + 1} of {total_steps}: writing section {i} of {len(sections)}: " \
                  f"{sec['title']}"
        await ctx.progress(lo, message)

        async def write(i: int = i, sec: dict = sec, lo: int = lo, hi: int = hi,
                        message: str = message) -> dict[str, Any]:
            heading = f"\n\n## {sec['title']}\n\n" if i > 1 else f"## {sec['title']}\n\n"
            await ctx.emit("partial", {"text": heading, "step": f"section-{i}"})
            req = section_request(data, titles, i, sec.get("kind"), words)
            req.params["language"] = language
            text = await stream_text(ctx, llm, req, step=f"section-{i}", progress=(lo, hi),
                                     message=message, expected_words=words)
            return {"text": clean_section(text, sec["title"]), "provider": llm.name,
                    "model": llm.model}

        written = await ctx.step(f"section-{i}", write)
        used.append(written)
        bodies.append(written["text"])

    _check_cancel(ctx, "editing")
    edit_message = f"Step {count + 2} of {total_steps}: editing, introduction and conclusion"
    await ctx.progress(82, edit_message)
    draft = "\n\n".join(f"## {t}\n\n{b}" for t, b in zip(titles, bodies, strict=True))

    async def edit() -> dict[str, Any]:
        await ctx.emit("partial", {"text": "\n\n---\n\n", "step": "edit"})
        req = edit_request(data, titles, draft)
        req.params["language"] = language
        text = await stream_text(ctx, llm, req, step="edit", progress=(83, 90),
                                 message=edit_message, expected_words=90)
        intro, conclusion = parse_framing(text)
        return {"intro": intro, "conclusion": conclusion, "provider": llm.name,
                "model": llm.model}

    framing = await ctx.step("edit", edit)
    used.append(framing)

    _check_cancel(ctx, "the title")
    title_message = f"Step {total_steps} of {total_steps}: choosing a title"
    await ctx.progress(92, title_message)

    async def headline() -> dict[str, Any]:
        req = title_request(data, titles)
        req.params["language"] = language
        text = await stream_text(ctx, llm, req, step="title", progress=(92, 97), emit=False,
                                 message=title_message, expected_words=8)
        return {"title": parse_title(text, data.topic), "provider": llm.name,
                "model": llm.model}

    named = await ctx.step("title", headline)
    used.append(named)

    parts = [f"# {named['title']}"]
    if framing["intro"]:
        parts.append(framing["intro"])
    parts += [f"## {t}\n\n{b}" for t, b in zip(titles, bodies, strict=True)]
    if framing["conclusion"]:
        heading = CONCLUSION.get(language.split("-")[0], "Conclusion")
        parts.append(f"## {heading}\n\n{framing['conclusion']}")
    markdown = "\n\n".join(parts) + "\n"
    words_total = count_words(markdown)
    await ctx.progress(99, f"Article ready: {words_total} words")

    providers = sorted({u["provider"] for u in used})
    models = sorted({u["model"] for u in used})
    return {
        "title": named["title"],
        "markdown": markdown,
        "words": words_total,
        "provider": providers[0] if len(providers) == 1 else "+".join(providers),
        "model": models[0] if len(models) == 1 else "+".join(models),
        "language": language,
        "sections": len(titles),
    }
