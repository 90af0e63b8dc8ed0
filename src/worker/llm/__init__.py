"""The LLM client the agent tasks use: any OpenAI-compatible server, or offline.

    llm = llm_for(ctx)                      # provider from LLM_* settings + shared limit
    async for text in llm.stream(request):  # tokens as they arrive
        ...
    answer = await llm.complete(request)    # the whole text

With `LLM_BASE_URL` set, requests go to `{LLM_BASE_URL}/chat/completions` (streamed,
retried with back-off on 429/5xx/timeouts, honouring Retry-After); without it the
offline provider composes readable text from the request, at a realistic pace. Every
request first passes the rate limit shared by all workers (`LLM_RPM`, `LLM_TPM`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from .base import (
    Acquire,
    ChatRequest,
    Completion,
    LLMError,
    LLMStreamBroken,
    LLMTimeout,
    Provider,
)
from .offline import OfflineProvider
from .openai_compat import OpenAICompatible
from .settings import LLMSettings

__all__ = [
    "LLM", "ChatRequest", "Completion", "LLMError", "LLMSettings", "LLMStreamBroken",
    "LLMTimeout", "OfflineProvider", "OpenAICompatible", "Provider", "llm_for",
    "make_provider",
]


def make_provider(settings: LLMSettings) -> Provider:
    return OfflineProvider(settings) if settings.offline else OpenAICompatible(settings)


class LLM:
    """A provider plus the shared rate limit; what a task talks to."""

    def __init__(self, provider: Provider, acquire: Acquire | None = None) -> None:
        self.provider = provider
        self.acquire = acquire

    @property
    def name(self) -> str:
        return self.provider.name

    @property
    def model(self) -> str:
        return self.provider.model

    def stream(self, request: ChatRequest) -> AsyncGenerator[str, None]:
        return self.provider.stream(request, self.acquire)

    async def complete(self, request: ChatRequest) -> Completion:
        async with aclosing(self.stream(request)) as stream:
            parts = [text async for text in stream]
        return Completion("".join(parts), self.provider.name, self.provider.model)


# One provider (and its connection pool) per worker process and event loop.
_providers: dict[tuple[int, LLMSettings], Provider] = {}


def _provider(settings: LLMSettings) -> Provider:
    loop_id = id(asyncio.get_running_loop())
    key = (loop_id, settings)
    if key not in _providers:
        _providers[key] = make_provider(settings)
    return _providers[key]


def _ratelimit_key(ctx: Any) -> str:
    keys = getattr(ctx, "keys", None)
    if keys is not None and hasattr(keys, "ratelimit"):
        return keys.ratelimit("llm")
    prefix = getattr(keys, "prefix", None) or "{agentq}"
    return f"{prefix}:ratelimit:llm"


def llm_for(ctx: Any, settings: LLMSettings | None = None) -> LLM:
    """The LLM for a job: the process's provider, behind the workers' shared limit."""
    settings = settings or LLMSettings.from_env()
    acquire: Acquire | None = None
    redis = getattr(ctx, "redis", None)
    if (settings.rpm or settings.tpm) and redis is not None:
        from ..ratelimit import RateLimiter

        limiter = RateLimiter(
            redis,
            _ratelimit_key(ctx),
            rpm=settings.rpm,
            tpm=settings.tpm,
            period_s=settings.ratelimit_period_s,
            max_wait_s=settings.ratelimit_max_wait_s,
        )
        acquire = limiter.acquire
    return LLM(_provider(settings), acquire)
