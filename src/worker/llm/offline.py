"""The offline provider: readable text composed from the request, with no network.

It answers the structured side of a `ChatRequest` (`purpose` and `params`), not the
prompt: outlines, sections, introductions and titles come from the phrase book in
`texts.py`, chosen deterministically from the topic, so the same request always gives
the same words. English and Korean are written natively; other languages fall back to
English. Every answer is streamed a few words at a time, `LLM_OFFLINE_DELAY_S` apart,
so a short article takes several seconds, like a real model.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
from collections.abc import AsyncGenerator

import orjson

from . import texts
from .base import Acquire, ChatRequest
from .lexicon import classify
from .settings import LLMSettings

LANGUAGES = {"en", "ko"}
_JOSA = {  # with a final consonant, without
    "은": ("은", "는"),
    "이": ("이", "가"),
    "을": ("을", "를"),
    "과": ("과", "와"),
    "이란": ("이란", "란"),
}
_PLACEHOLDER = re.compile(r"\{(t|T)(은|이란|이|을|과|으로)?\}")
# How a Latin word or a digit ends when read in Korean, roughly: "Redis" (레디스) and
# "Rust" (러스트) end in a vowel, "Python" (파이썬), "Slack" (슬랙), "Git" (깃) in a
# consonant, "SQL" (에스큐엘) and 1 (일) in ㄹ.
_DIGIT_FINAL = {"0": (True, False), "1": (True, True), "3": (True, False), "6": (True, False),
                "7": (True, True), "8": (True, True)}
_VOWELS = set("aeiouy")


def _latin_final(word: str) -> tuple[bool, bool]:
    if word.isupper():  # an acronym is read letter by letter: L (엘), M (엠), N (엔), R (알)
        last = word[-1]
        return last in "LMNR", last in "LR"
    low = word.lower()
    last, before = low[-1], (low[-2] if len(low) > 1 else "")
    if last in "lmn" or low.endswith(("ng", "ck")):
        return True, last == "l"
    if last in "bkpt" and before in _VOWELS:
        return True, False
    return False, False


def _final_consonant(word: str) -> tuple[bool, bool]:
    """(has a final consonant, that consonant is ㄹ) for the word's last syllable."""
    word = word.rstrip(" )]}\"'.,!?\u201d\u2019")
    if not word:
        return False, False
    last = word[-1]
    code = ord(last) - 0xAC00
    if 0 <= code < 11172:
        final = code % 28
        return final != 0, final == 8
    if last.isdigit():
        return _DIGIT_FINAL.get(last, (False, False))
    tail = re.findall(r"[A-Za-z]+$", word)
    return _latin_final(tail[0]) if tail else (False, False)


def josa(word: str, particle: str) -> str:
    """The word with the Korean particle that fits it: josa("파이썬", "은") == "파이썬은"."""
    final, rieul = _final_consonant(word)
    if particle == "으로":
        return word + ("으로" if final and not rieul else "로")
    with_final, without = _JOSA[particle]
    return word + (with_final if final else without)


_AGREE = re.compile(r"\{(is|does|s|es|it|its|Its|them|itself)\}")
_SINGULAR, _PLURAL = (
    {"is": "is", "does": "does", "s": "s", "es": "es", "it": "it", "its": "its", "Its": "Its",
     "them": "it", "itself": "itself"},
    {"is": "are", "does": "do", "s": "", "es": "", "it": "they", "its": "their",
     "Its": "Their", "them": "them", "itself": "themselves"},
)


def is_plural(topic: str) -> bool:
    """A rough guess: "Redis streams" and "cats and dogs" are plural; "Redis", "physics",
    "Kubernetes" (a name) are not."""
    words = re.findall(r"[A-Za-z]+", topic)
    if not words:
        return False
    if " and " in f" {topic.lower()} ":
        return True
    last = words[-1]
    return (len(last) > 3 and last.islower() and last.endswith("s")
            and not last.endswith(("ss", "us", "is", "ics", "ness", "ous")))


def fill(template: str, topic: str) -> str:
    def sub(m: re.Match[str]) -> str:
        word = topic[:1].upper() + topic[1:] if m.group(1) == "T" else topic
        return josa(word, m.group(2)) if m.group(2) else word

    forms = _PLURAL if is_plural(topic) else _SINGULAR
    text = _AGREE.sub(lambda m: forms[m.group(1)], template)
    return _PLACEHOLDER.sub(sub, text)


def _rng(*parts: object) -> random.Random:
    seed = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(seed[:8], "big"))


def _lang(params: dict) -> str:
    lang = str(params.get("language") or "en").split("-")[0].lower()
    return lang if lang in LANGUAGES else "en"


def _book(lang: str) -> tuple[dict, dict, dict]:
    if lang == "ko":
        return texts.KO, texts.KO_LEVEL, texts.KO_FRAME
    return texts.EN, texts.EN_LEVEL, texts.EN_FRAME


def plan_sections(topic: str, count: int) -> list[str]:
    """Section kinds for an article of `count` sections."""
    plan = texts.PLANS.get(count) or texts.PLANS[min(texts.PLANS, key=lambda n: abs(n - count))]
    rng = _rng("plan", topic, count)
    kinds = [k if isinstance(k, str) else rng.choice(k) for k in plan]
    return (kinds * 2)[:count] if count > len(kinds) else kinds[:count]


def outline(params: dict) -> list[dict[str, str]]:
    topic, lang = params["topic"], _lang(params)
    book, _, _ = _book(lang)
    out = []
    for kind in plan_sections(topic, int(params.get("sections", 3))):
        title = _rng("title", topic, kind, lang).choice(book[kind]["titles"])
        out.append({"title": fill(title, topic), "kind": kind})
    return out


def guess_kind(title: str, index: int) -> str:
    low = title.lower()
    for kind, words in {
        "why": ("why", "matter", "benefit", "중요", "이유"),
        "how": ("how", "work", "inside", "원리", "작동"),
        "start": ("start", "first", "begin", "시작", "첫"),
        "pitfalls": ("pitfall", "mistake", "wrong", "avoid", "함정", "실수"),
        "practice": ("practice", "habit", "tip", "습관", "사례"),
        "examples": ("example", "real", "case", "실전"),
        "future": ("future", "next", "heading", "trend", "미래", "앞날"),
        "what": ("what", "intro", "basic", "overview", "무엇", "이해"),
    }.items():
        if any(w in low for w in words):
            return kind
    return list(texts.EN)[index % len(texts.EN)]


def section(params: dict) -> str:
    topic, lang = params["topic"], _lang(params)
    book, levels, _ = _book(lang)
    index = int(params.get("index", 1))
    kind = params.get("kind") or guess_kind(str(params.get("title", "")), index)
    kind = kind if kind in book else "what"
    level = params.get("level") if params.get("level") in levels else "intermediate"
    rng = _rng("section", topic, kind, index, lang, level)
    picks = [rng.choice(slot) for slot in book[kind]["slots"]]
    pool = levels[level]
    level_line = pool[(index - 1) % len(pool)]
    first = " ".join(fill(s, topic) for s in picks[:3])
    second = " ".join(fill(s, topic) for s in [picks[3], level_line, picks[4]])
    return f"{first}\n\n{second}"


def framing(params: dict) -> str:
    """The introduction and the conclusion, two paragraphs (the edit step)."""
    topic, lang = params["topic"], _lang(params)
    _, _, frame = _book(lang)
    level = params.get("level") if params.get("level") in frame["intro"] else "intermediate"
    titles = [str(t) for t in params.get("sections") or []] or [topic]
    quote = ("\u2018{}\u2019" if lang == "ko" else "\u201c{}\u201d").format
    listed = ", ".join(quote(t) for t in titles)
    intro = fill(frame["intro"][level], topic) + " " + fill(
        frame["parts"].format(n=len(titles), list=listed), topic
    )
    conclusion = fill(frame["conclusion"].replace("{first}", titles[0]), topic)
    return f"{intro}\n\n{conclusion}"


_SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to",
                "vs", "with"}


def title_case(text: str) -> str:
    """English headline capitals, leaving words with capitals of their own (iOS) alone."""
    words = text.split(" ")
    return " ".join(
        w[:1].upper() + w[1:] if w.islower() and (i == 0 or w not in _SMALL_WORDS) else w
        for i, w in enumerate(words)
    )


def title(params: dict) -> str:
    topic, lang = params["topic"], _lang(params)
    _, _, frame = _book(lang)
    level = params.get("level") if params.get("level") in frame["titles"] else "intermediate"
    headline = _rng("headline", topic, lang, level).choice(frame["titles"][level])
    return fill(headline, title_case(topic) if lang == "en" else topic)


def compose(request: ChatRequest) -> str:
    """The whole answer to a request, as a model would have written it."""
    p = request.params
    if request.purpose == "outline":
        return "\n".join(f"{i}. {s['title']}" for i, s in enumerate(outline(p), 1))
    if request.purpose == "section":
        return section(p)
    if request.purpose == "edit":
        return framing(p)
    if request.purpose == "title":
        return title(p)
    if request.purpose == "sentiment":
        label, confidence = classify(str(p.get("text", "")))
        return orjson.dumps({"sentiment": label, "confidence": confidence}).decode()
    last = next((m["content"] for m in reversed(request.messages) if m.get("role") == "user"), "")
    return f"(offline provider) I received {len(last)} characters and have nothing to add."


def chunks(text: str, words: int = 3) -> list[str]:
    """The text in pieces of a few words, whitespace kept, joining back to the text."""
    pieces = re.findall(r"\s*\S+\s*", text) or [text]
    return ["".join(pieces[i : i + words]) for i in range(0, len(pieces), words)]


class OfflineProvider:
    """Answers with `compose()`, streamed a few words at a time."""

    name = "offline"
    model = "offline"

    def __init__(self, settings: LLMSettings) -> None:
        self.delay_s = max(0.0, settings.offline_delay_s)

    async def stream(
        self, request: ChatRequest, acquire: Acquire | None = None
    ) -> AsyncGenerator[str, None]:
        if acquire is not None:
            await acquire(request.estimated_tokens())
        text = compose(request)
        per_chunk = 2 if _lang(request.params) == "ko" else 3
        for piece in chunks(text, per_chunk):
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            yield piece

    async def aclose(self) -> None:
        return None
