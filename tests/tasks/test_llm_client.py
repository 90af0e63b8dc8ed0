"""The OpenAI-compatible client against a fake server: streaming, back-off, timeouts."""

from __future__ import annotations

import time

import pytest

from src.worker import Retry
from src.worker.llm import (
    LLM,
    ChatRequest,
    LLMError,
    LLMSettings,
    LLMTimeout,
    OpenAICompatible,
    llm_for,
)

from .fake_openai import FakeOpenAI, Step

pytestmark = pytest.mark.timeout(60)


def settings(server: FakeOpenAI, **kw) -> LLMSettings:
    base = LLMSettings(base_url=server.url, api_key="sk-test", model="fake-1",
                       retry_base_s=0.05, retry_max_s=0.2, max_retries=3, retry_budget_s=5,
                       read_timeout_s=5, connect_timeout_s=2)
    return base.model_copy(update=kw)


def hello() -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": "Give a title for an article"}],
                       purpose="title", max_tokens=20)


async def test_streams_tokens_as_they_arrive(fake_llm: FakeOpenAI) -> None:
    provider = OpenAICompatible(settings(fake_llm))
    try:
        pieces = [p async for p in provider.stream(hello())]
    finally:
        await provider.aclose()
    assert pieces == ["Remote ", "Title"]
    body = fake_llm.calls[0].body
    assert body["stream"] is True and body["model"] == "fake-1"
    assert body["messages"][0]["content"].startswith("Give a title")


async def test_429_waits_for_retry_after_then_succeeds(fake_llm: FakeOpenAI) -> None:
    fake_llm.then(Step(status=429, headers={"Retry-After": "1"}))
    llm = LLM(OpenAICompatible(settings(fake_llm)))
    started = time.monotonic()
    try:
        answer = await llm.complete(hello())
    finally:
        await llm.provider.aclose()
    assert answer.text == "Remote Title"
    assert [c.status for c in fake_llm.calls] == [429, 200]
    gap = fake_llm.calls[1].at - fake_llm.calls[0].at
    assert gap >= 1.0, "Retry-After was not honoured"
    assert time.monotonic() - started < 5


async def test_500_storm_spends_the_budget_then_raises_retry(fake_llm: FakeOpenAI) -> None:
    fake_llm.then(*[Step(status=500)] * 10)
    llm = LLM(OpenAICompatible(settings(fake_llm, max_retries=2)))
    try:
        with pytest.raises(Retry) as info:
            await llm.complete(hello())
    finally:
        await llm.provider.aclose()
    assert len(fake_llm.calls) == 3  # the first try and two retries
    assert info.value.after_s > 0
    assert "HTTP 500" in str(info.value)


async def test_backoff_grows_between_tries(fake_llm: FakeOpenAI) -> None:
    fake_llm.then(*[Step(status=503)] * 3)
    llm = LLM(OpenAICompatible(settings(fake_llm, retry_base_s=0.1, retry_max_s=1)))
    try:
        assert (await llm.complete(hello())).text == "Remote Title"
    finally:
        await llm.provider.aclose()
    at = [c.at for c in fake_llm.calls]
    gaps = [b - a for a, b in zip(at, at[1:], strict=False)]
    # base 0.1 doubling, jitter over the upper half: [0.05,0.1], [0.1,0.2], [0.2,0.4]
    assert len(gaps) == 3 and gaps[2] >= 0.2 and gaps[2] > gaps[0]


async def test_a_server_that_does_not_answer_times_out(fake_llm: FakeOpenAI) -> None:
    fake_llm.then(Step(delay_s=3), Step(delay_s=3))
    llm = LLM(OpenAICompatible(settings(fake_llm, read_timeout_s=0.3, max_retries=1)))
    started = time.monotonic()
    try:
        with pytest.raises(LLMTimeout):
            await llm.complete(hello())
    finally:
        await llm.provider.aclose()
    assert len(fake_llm.calls) == 2
    assert time.monotonic() - started < 2.5


async def test_a_client_error_is_not_retried(fake_llm: FakeOpenAI) -> None:
    fake_llm.then(Step(status=401))
    llm = LLM(OpenAICompatible(settings(fake_llm)))
    try:
        with pytest.raises(LLMError, match="HTTP 401"):
            await llm.complete(hello())
    finally:
        await llm.provider.aclose()
    assert len(fake_llm.calls) == 1


async def test_sends_the_api_key(fake_llm: FakeOpenAI) -> None:
    seen = {}

    @fake_llm.app.middleware("http")  # before the first request builds the app's stack
    async def capture(request, call_next):  # noqa: ANN001
        seen["auth"] = request.headers.get("authorization")
        return await call_next(request)

    llm = LLM(OpenAICompatible(settings(fake_llm)))
    try:
        await llm.complete(hello())
    finally:
        await llm.provider.aclose()
    assert seen["auth"] == "Bearer sk-test"


async def test_llm_for_without_base_url_is_offline() -> None:
    class Ctx:
        redis = None

    llm = llm_for(Ctx(), LLMSettings(offline_delay_s=0))
    answer = await llm.complete(ChatRequest(messages=[], purpose="title",
                                            params={"topic": "tea", "level": "beginner"}))
    assert answer.provider == "offline" and "Tea" in answer.text
