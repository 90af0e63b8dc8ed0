"""The LLM client the agent tasks use: any OpenAI-compatible server, or offline.

    llm = llm_for(ctx)                      # provider from LLM_* settings + shared limit
    async for text in llm.stream(request):  # tokens as they arrive
        ...
    answer = await llm.complete(request)    # the whole text

With `LLM_BASE_URL` set, requests go to `{LLM_BASE_URL}/chat/completions` (streamed,
retried with back-off on 429/5xx/timeouts, honouring Retry-After); without it the
offline provider composes readable text from the request, at a realistic pace. Every
request first passes the rate limit shared by all workers (`LLM_RPM`, `LLM_TPM`).

In a job, every call is counted in the job's ledger (`ctx.usage`, src/worker/ledger.py):
the tokens the server reported (or an estimate, marked so) and their cost. The job's
token budget is checked before each request and after each call, and the tokens the
shared limit reserved up front are corrected to what the call really used.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from opentelemetry import trace

from src.queue import tracing

from ..ledger import CallUsage, Ledger, cost_of, estimate_tokens
from ..ratelimit import RateLimiter, Reservation
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


log = logging.getLogger("agentq.llm")


class LLM:
    """A provider plus the shared rate limit and the job's ledger; what a task talks to.

    :param acquire: run before each request with its token estimate (when no `limiter`)
    :param limiter: the shared limit; its reservations are corrected to the real use
    :param ledger: the job's usage and budget (`ctx.usage`)
    :param prices: model -> USD per million (prompt, completion) tokens
    """

    def __init__(self, provider: Provider, acquire: Acquire | None = None, *,
                 limiter: RateLimiter | None = None, ledger: Ledger | None = None,
                 prices: dict[str, tuple[float, float]] | None = None) -> None:
        self.provider = provider
        self.acquire = acquire
        self.limiter = limiter
        self.ledger = ledger
        self.prices = prices or {}

    @property
    def name(self) -> str:
        return self.provider.name

    @property
    def model(self) -> str:
        return self.provider.model

    def stream(self, request: ChatRequest) -> AsyncGenerator[str, None]:
        if not tracing.enabled():
            return self._metered(request)
        return self._traced(request)

    async def _metered(self, request: ChatRequest) -> AsyncGenerator[str, None]:
        """The provider's stream within the job's budget and the shared limit, counted.

        Raises `BudgetExceeded` before a request whose reservation would pass the job's
        budget (nothing is sent), and after a call that took the job past it.
        """
        reservations: list[Reservation | None] = []

        async def acquire(tokens: int) -> None:
            if self.ledger is not None:
                self.ledger.check(tokens)
            if self.limiter is not None:
                reservations.append(await self.limiter.reserve(tokens))
                return
            if self.acquire is not None:
                await self.acquire(tokens)
            reservations.append(None)

        request.usage = None
        size = 0
        try:
            async with aclosing(self.provider.stream(request, acquire)) as stream:
                async for text in stream:
                    size += len(text.encode())
                    yield text
        finally:
            call = self._usage(request, size) if reservations else None
            if call is not None and self.ledger is not None:
                self.ledger.add(call)
            await self._settle(reservations, call)
        if self.ledger is not None:
            self.ledger.check()

    def _usage(self, request: ChatRequest, size: int) -> CallUsage | None:
        """What a sent call used: the server's counts, else estimates; None when nothing
        came back (a request refused or broken before any answer is not billed)."""
        reported = request.usage or {}
        if not reported and not size:
            return None
        prompt = reported.get("prompt_tokens")
        completion = reported.get("completion_tokens")
        estimated = prompt is None or completion is None
        if prompt is None:
            prompt = estimate_tokens("".join(m.get("content", "") for m in request.messages))
        if completion is None:
            completion = math.ceil(size / 4)
        return CallUsage(self.model, prompt, completion, estimated,
                         cost_of(self.prices, self.model, prompt, completion))

    async def _settle(self, reservations: list[Reservation | None],
                      call: CallUsage | None) -> None:
        """Correct the shared limit's reservations: tries that got no answer used nothing,
        the last one used what the call used."""
        if self.limiter is None or not any(reservations):
            return
        *refused, last = reservations
        try:
            for r in refused:
                await self.limiter.correct(r, 0)
            await self.limiter.correct(last, call.tokens if call is not None else 0)
        except Exception as exc:  # the limit stays conservative: the estimate stays counted
            log.warning("could not correct the rate limit's tokens (%s)", type(exc).__name__)

    async def _traced(self, request: ChatRequest) -> AsyncGenerator[str, None]:
        """The provider's stream inside a span with the GenAI semantic conventions' names.

        Token counts are the server's when it reported them, else estimates (about four
        bytes a token) marked `agentq.llm.tokens_estimated`. The span is not made
        current: the caller's code between chunks stays in its own span.
        """
        span = tracing.tracer().start_span(
            f"chat {self.model}", kind=trace.SpanKind.CLIENT, attributes={
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": self.name,
                "gen_ai.request.model": self.model,
                "gen_ai.request.max_tokens": request.max_tokens,
                "gen_ai.request.temperature": request.temperature,
                "agentq.llm.purpose": request.purpose,
            })
        size = 0
        try:
            async with aclosing(self._metered(request)) as stream:
                async for text in stream:
                    size += len(text.encode())
                    yield text
        except BaseException as exc:
            if not isinstance(exc, GeneratorExit):
                span.record_exception(exc)
                span.set_status(trace.StatusCode.ERROR, f"{type(exc).__name__}")
                span.set_attribute("error.type", type(exc).__name__)
            raise
        finally:
            usage = request.usage or {}
            prompt = sum(len(m.get("content", "").encode()) for m in request.messages)
            span.set_attributes({
                "gen_ai.response.model": self.model,
                "gen_ai.usage.input_tokens": usage.get("prompt_tokens", math.ceil(prompt / 4)),
                "gen_ai.usage.output_tokens": usage.get("completion_tokens",
                                                        math.ceil(size / 4)),
                "agentq.llm.tokens_estimated": not usage,
            })
            span.end()

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


_env_settings: tuple[tuple[Any, ...], LLMSettings] | None = None


def _settings_from_env() -> LLMSettings:
    """`LLMSettings.from_env()`, built again only when an `LLM_*` variable or `.env` changed.

    Building it takes about half a millisecond: a thousand jobs starting together waited
    half a second for theirs.
    """
    global _env_settings
    try:
        env_file = os.stat(".env").st_mtime_ns
    except OSError:
        env_file = None
    key = (env_file, *sorted((k, v) for k, v in os.environ.items()
                             if k.upper().startswith(("LLM_", "AGENTQ_LLM_"))))
    if _env_settings is None or _env_settings[0] != key:
        _env_settings = (key, LLMSettings.from_env())
    return _env_settings[1]


def llm_for(ctx: Any, settings: LLMSettings | None = None) -> LLM:
    """The LLM for a job: the process's provider, behind the workers' shared limit."""
    settings = settings or _settings_from_env()
    limiter: RateLimiter | None = None
    redis = getattr(ctx, "redis", None)
    if (settings.rpm or settings.tpm) and redis is not None:
        limiter = RateLimiter(
            redis,
            _ratelimit_key(ctx),
            rpm=settings.rpm,
            tpm=settings.tpm,
            period_s=settings.ratelimit_period_s,
            max_wait_s=settings.ratelimit_max_wait_s,
        )
    ledger = getattr(ctx, "usage", None)
    return LLM(_provider(settings), limiter=limiter,
               ledger=ledger if isinstance(ledger, Ledger) else None,
               prices=settings.price_table())
