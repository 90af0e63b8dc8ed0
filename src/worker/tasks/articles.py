"""generate_article: a writing agent in durable steps (outline → sections → edit → title).

Each LLM call is one `ctx.step`, so a retry or a recovery after a lost worker resumes
after the last completed step and never pays for a finished call again. Text is
streamed from the model and sent on as "partial" events a few times a second, with a
progress message at every step; a cancel request stops the job between steps and in
the middle of a streamed section.
"""

from __future__ import annotations

import asyncio
import re
import time
from contextlib import aclosing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from src.queue.registry import task

from ..context import JobContext
from ..llm import LLM, ChatRequest, llm_for, offline

#: sections and words per section for each length
LENGTHS = {"short": (3, 120), "medium": (5, 150), "long": (7, 170)}
LANGUAGE_NAMES = {
    "en": "English", "ko": "Korean", "de": "German", "fr": "French", "es": "Spanish",
    "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "ja": "Japanese", "zh": "Chinese",
}
CONCLUSION = {"en": "Conclusion", "ko": "마치며", "de": "Fazit", "fr": "Conclusion",
              "es": "Conclusión", "it": "Conclusione", "pt": "Conclusão", "nl": "Conclusie",
              "ja": "まとめ", "zh": "结语"}
PARTIAL_EVERY_S = 0.3        # at most ~3 partial events a second
DRAFT_CHARS_FOR_EDIT = 8000  # how much of the draft the edit step shows the model
SYSTEM = ("You are a careful technical writer. You write clear, accurate, well-organised "
          "prose for the reader's level and never pad with filler.")


class ArticleInput(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    topic: str = Field(min_length=1, max_length=200, examples=["Redis streams"])
    language: str = Field("en", pattern=r"^[a-z]{2}(-[A-Za-z0-9]{2,8})?$",
                          description="ISO 639-1 code; the offline provider writes en and ko")
    level: Literal["beginner", "intermediate", "advanced"] = "intermediate"
    length: Literal["short", "medium", "long"] = "short"


def _language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code.split("-")[0], code)


def _params(data: ArticleInput, **more: Any) -> dict[str, Any]:
    return {"topic": data.topic, "language": data.language, "level": data.level, **more}


# -- prompts and parsing --------------------------------------------------------------

def outline_request(data: ArticleInput, count: int) -> ChatRequest:
    return ChatRequest(
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": (
                f"Plan an article about \u201c{data.topic}\u201d for a {data.level} reader, "
                f"written in {_language_name(data.language)}. Reply with exactly {count} "
                "section titles as a numbered list, one per line, and nothing else. "
                "Leave out the introduction and the conclusion; they are written separately."
            )},
        ],
        purpose="outline", params=_params(data, sections=count),
        max_tokens=40 * count, temperature=0.4,
    )


def section_request(data: ArticleInput, titles: list[str], index: int, kind: str | None,
                    words: int) -> ChatRequest:
    listing = "\n".join(f"{i}. {t}" for i, t in enumerate(titles, 1))
    return ChatRequest(
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": (
                f"We are writing an article about \u201c{data.topic}\u201d for a {data.level} "
                f"reader, in {_language_name(data.language)}. Its sections are:\n{listing}\n\n"
                f"Write section {index}, \u201c{titles[index - 1]}\u201d: about {words} words "
                "in two or three Markdown paragraphs. No heading, no introduction to the whole "
                "article, no closing summary."
            )},
        ],
        purpose="section",
        params=_params(data, index=index, title=titles[index - 1], kind=kind, words=words),
        max_tokens=int(words * 2.5) + 50,
    )


def edit_request(data: ArticleInput, titles: list[str], draft: str) -> ChatRequest:
    return ChatRequest(
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": (
                f"Here is the draft of an article about \u201c{data.topic}\u201d for a "
                f"{data.level} reader:\n\n{draft[:DRAFT_CHARS_FOR_EDIT]}\n\n"
                "As its editor, write exactly two paragraphs in "
                f"{_language_name(data.language)}, separated by one blank line: first an "
                "introduction (two or three sentences naming what the article covers), then "
                "a conclusion (two or three sentences). No headings, no labels."
            )},
        ],
        purpose="edit", params=_params(data, sections=titles),
        max_tokens=400, temperature=0.5,
    )


def title_request(data: ArticleInput, titles: list[str]) -> ChatRequest:
    return ChatRequest(
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": (
                f"Give a title for an article about \u201c{data.topic}\u201d for a {data.level} "
                f"reader, in {_language_name(data.language)}, with the sections: "
                f"{'; '.join(titles)}. Reply with the title only, no quotes."
            )},
        ],
        purpose="title", params=_params(data, sections=titles),
        max_tokens=40, temperature=0.6,
    )


_LIST_ITEM = re.compile(r"^\s*(?:\d+\s*[.):]|[-*\u2022])\s*(.+?)\s*$")


def _strip_marks(text: str) -> str:
    text = re.sub(r"^#+\s*", "", text.strip())
    text = text.strip().strip("*_`").strip()
    text = re.sub(r"^(?:title|titre|titel|제목)\s*[:\uff1a]\s*", "", text, flags=re.I)
    return text.strip().strip("\"'\u201c\u201d\u2018\u2019\u00ab\u00bb").strip().rstrip(":")


def parse_outline(text: str, count: int) -> list[str]:
    """Section titles from a numbered (or bulleted) list; plain lines as a fallback."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    items = [m.group(1) for ln in lines if (m := _LIST_ITEM.match(ln))]
    if not items:
        items = lines
    titles = []
    for item in items:
        title = _strip_marks(item)
        if title and title.lower() not in {t.lower() for t in titles}:
            titles.append(title[:120])
    return titles[:count]


def parse_framing(text: str) -> tuple[str, str]:
    """(introduction, conclusion) from the edit step's two paragraphs."""
    blocks = []
    for block in re.split(r"\n\s*\n", text.strip()):
        block = re.sub(r"^\s*(?:#+\s*)?\**(?:introduction|conclusion|intro|서론|결론|마치며)"
                       r"\**\s*[:\uff1a]?\s*\**", "", block, flags=re.I).strip()
        if block:
            blocks.append(block)
    if not blocks:
        return "", ""
    return blocks[0], "\n\n".join(blocks[1:])


def parse_title(text: str, fallback: str) -> str:
    for line in text.splitlines():
        title = _strip_marks(line)
        if title:
            return title[:200]
    return fallback


def clean_section(text: str, title: str) -> str:
    """The model's section without a repeated heading, tidy blank lines and spaces."""
    lines = text.strip().splitlines()
    while lines and (lines[0].lstrip().startswith("#") or _strip_marks(lines[0]) == title):
        lines.pop(0)
    body = "\n".join(ln.rstrip() for ln in lines).strip()
    return re.sub(r"\n{3,}", "\n\n", body)


def count_words(markdown: str) -> int:
    return sum(1 for w in markdown.split() if any(c.isalnum() for c in w))


# -- streaming with partial events ----------------------------------------------------

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
    # The progress bar: outline 2-10, sections 12-80, edit 82-90, title 92-98.
    await ctx.progress(2, f"Step 1 of {total_steps}: planning the outline")

    async def plan() -> dict[str, Any]:
        text = await stream_text(ctx, llm, outline_request(data, count), step="outline",
                                 progress=(3, 9), emit=False, expected_words=8 * count,
                                 message=f"Step 1 of {total_steps}: planning the outline")
        titles = parse_outline(text, count)
        fallback = offline.outline(_params(data, language=language, sections=count))
        for extra in fallback:  # a model that listed too few: fill in from the plan
            if len(titles) >= count:
                break
            if extra["title"] not in titles:
                titles.append(extra["title"])
        kinds = [s["kind"] for s in fallback] if llm.name == "offline" else [None] * count
        return {"sections": [{"title": t, "kind": k} for t, k in zip(titles, kinds, strict=False)],
                "provider": llm.name, "model": llm.model}

    outline = await ctx.step("outline", plan)
    sections = outline["sections"]
    titles = [s["title"] for s in sections]
    await ctx.progress(10, f"Outline ready: {len(titles)} sections")
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
