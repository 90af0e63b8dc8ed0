"""The offline provider's text, Korean particles, and the sentiment lexicon."""

from __future__ import annotations

import time

import pytest

from src.worker.llm import ChatRequest, LLMSettings, OfflineProvider
from src.worker.llm.lexicon import classify
from src.worker.llm.offline import chunks, compose, is_plural, josa, outline, section, title


def article_params(**kw):
    return {"topic": "Redis streams", "language": "en", "level": "intermediate",
            "sections": 3, **kw}


def test_outline_has_the_asked_number_of_distinct_sections() -> None:
    for n in (3, 5, 7):
        titles = [s["title"] for s in outline(article_params(sections=n))]
        assert len(titles) == n == len(set(titles))


def test_the_same_request_gives_the_same_words() -> None:
    p = article_params(index=2, kind="how", title="How Redis streams work")
    assert section(p) == section(dict(p))
    assert section(p) != section({**p, "topic": "sourdough baking"})


def test_sections_are_real_prose_about_the_topic() -> None:
    text = section(article_params(index=1, kind="what"))
    paragraphs = text.split("\n\n")
    assert len(paragraphs) == 2
    assert text.count("Redis streams") >= 2
    assert 70 <= len(text.split()) <= 200
    assert "lorem" not in text.lower() and "{" not in text
    assert all(p.rstrip().endswith(".") for p in paragraphs)


def test_english_agrees_with_plural_topics() -> None:
    assert is_plural("Redis streams") and is_plural("cats and dogs")
    assert not is_plural("Redis") and not is_plural("physics") and not is_plural("Kubernetes")
    assert "Redis streams are" in section(article_params(index=1, kind="future"))
    assert "Redis is" in section(article_params(topic="Redis", index=1, kind="future"))


def test_korean_articles_are_korean_with_fitting_particles() -> None:
    p = article_params(topic="파이썬", language="ko")
    text = section({**p, "index": 1, "kind": "what"})
    assert sum("\uac00" <= c <= "\ud7a3" for c in text) > 100
    assert "파이썬은" in text and "파이썬는" not in text
    assert title(p)


@pytest.mark.parametrize(("word", "particle", "expected"), [
    ("파이썬", "은", "파이썬은"), ("레디스", "은", "레디스는"), ("레디스", "을", "레디스를"),
    ("서울", "으로", "서울로"), ("부산", "으로", "부산으로"), ("Python", "이", "Python이"),
    ("Redis", "과", "Redis와"), ("AI", "은", "AI는"), ("Rust", "을", "Rust를"), ("SQL", "이", "SQL이"),
    ("Slack", "으로", "Slack으로"), ("Git", "은", "Git은"), ("Kotlin", "으로", "Kotlin으로"),
    ("HTML", "으로", "HTML로"), ("3", "이", "3이"), ("Go", "과", "Go와"),
])
def test_josa(word: str, particle: str, expected: str) -> None:
    assert josa(word, particle) == expected


def test_other_languages_fall_back_to_english() -> None:
    text = section(article_params(language="de", index=1, kind="what"))
    assert "Redis streams" in text and text.isascii()


def test_chunks_join_back_to_the_text() -> None:
    text = "One two three.\n\nFour  five six seven."
    assert "".join(chunks(text, 3)) == text
    assert len(chunks(text, 3)) == 3


async def test_streams_at_the_configured_pace() -> None:
    provider = OfflineProvider(LLMSettings(offline_delay_s=0.01))
    req = ChatRequest(messages=[], purpose="section",
                      params=article_params(index=1, kind="why"))
    started = time.monotonic()
    pieces = [p async for p in provider.stream(req)]
    elapsed = time.monotonic() - started
    assert "".join(pieces) == compose(req)
    assert len(pieces) >= 20 and elapsed >= len(pieces) * 0.01


@pytest.mark.parametrize(("text", "label"), [
    ("I love this product, it works great!", "positive"),
    ("Absolutely fantastic service, thank you.", "positive"),
    ("This is terrible. I want a refund.", "negative"),
    ("The app crashes constantly and support was rude.", "negative"),
    ("I do not like it at all.", "negative"),
    ("The package arrived on Tuesday.", "neutral"),
    ("정말 최고예요! 강력 추천합니다.", "positive"),
    ("배송도 빠르고 친절해서 만족합니다.", "positive"),
    ("최악이에요. 환불해 주세요.", "negative"),
    ("별로 좋지 않아요.", "negative"),
    ("너무 느려서 짜증나요.", "negative"),
    ("회의는 오후 세 시에 시작합니다.", "neutral"),
])
def test_lexicon_on_obvious_cases(text: str, label: str) -> None:
    got, confidence = classify(text)
    assert got == label
    assert 0.5 <= confidence <= 0.99
