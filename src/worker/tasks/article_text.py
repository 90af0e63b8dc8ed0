"""The article agent's words: its input model, the prompts of each step, and the parsing
of what the model answers (outline, framing, title, sections)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..llm import ChatRequest

LANGUAGE_NAMES = {
    "en": "English", "ko": "Korean", "de": "German", "fr": "French", "es": "Spanish",
    "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "ja": "Japanese", "zh": "Chinese",
}
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
    review: bool = Field(False, description="Wait after the outline for a person's decision: "
                         "POST /jobs/{id}/signals/approve with {} (as is), {\"outline\": "
                         "[titles]} (edited) or {\"reject\": \"reason\"}")
    review_timeout_s: float = Field(
        86_400, ge=1, le=30 * 86_400,
        description="With review: how long the outline waits for a decision before the job "
                    "fails (error type `timeout`)")


MAX_OUTLINE_SECTIONS = 20


def review_titles(decision: Any, titles: list[str]) -> list[str] | str:
    """The outline's section titles after a review decision, or why it is refused.

    `{}` / `{"approve": true}`: as they are; `{"outline": [...]}`: those titles (a non-empty
    list of non-empty strings); `{"reject": "reason"}` is the caller's to handle.
    """
    if decision is None:
        return titles
    if not isinstance(decision, dict):
        return "the approve signal's body must be a JSON object"
    if "outline" not in decision:
        if decision.get("approve", True) is not True:
            return '"approve" must be true (send {"reject": "reason"} to reject)'
        return titles
    edited = decision["outline"]
    if not isinstance(edited, list) or not edited or len(edited) > MAX_OUTLINE_SECTIONS:
        return f'"outline" must be a list of 1 to {MAX_OUTLINE_SECTIONS} section titles'
    if not all(isinstance(t, str) and t.strip() and len(t) <= 200 for t in edited):
        return '"outline" must hold non-empty strings of at most 200 characters'
    return [" ".join(t.split()) for t in edited]


def _language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code.split("-")[0], code)


def article_params(data: ArticleInput, **more: Any) -> dict[str, Any]:
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
        purpose="outline", params=article_params(data, sections=count),
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
        params=article_params(data, index=index, title=titles[index - 1], kind=kind, words=words),
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
        purpose="edit", params=article_params(data, sections=titles),
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
        purpose="title", params=article_params(data, sections=titles),
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
    titles: list[str] = []
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
