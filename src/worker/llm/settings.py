"""LLM settings, read from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DEFAULT_MODEL = "gpt-4o-mini"


@lru_cache(maxsize=4)
def _dotenv(path: str, mtime: float) -> dict[str, str]:
    try:
        from dotenv import dotenv_values
    except ImportError:  # pydantic-settings brings python-dotenv; without it, no .env
        return {}
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def environment() -> dict[str, str]:
    """`.env` in the working directory (as the rest of agentq reads it), then the real
    environment on top."""
    dotenv = Path(".env")
    try:
        values = _dotenv(str(dotenv.resolve()), dotenv.stat().st_mtime)
    except OSError:
        values = {}
    return {**values, **os.environ}


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    return float(raw) if raw else default


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    return int(raw) if raw else default


def _limit(env: Mapping[str, str], name: str) -> int | None:
    """A rate limit: empty or 0 means unlimited."""
    raw = (env.get(name) or "").strip()
    value = int(raw) if raw else 0
    return value if value > 0 else None


@dataclass(frozen=True)
class LLMSettings:
    """Every knob of the LLM client; `from_env()` documents the variable behind each.

    With no `base_url` the offline provider answers (no network at all).
    """

    base_url: str = ""
    api_key: str = ""
    model: str = ""
    #: seconds to open a connection
    connect_timeout_s: float = 10.0
    #: seconds without a byte from the server before a request is abandoned
    read_timeout_s: float = 60.0
    #: seconds one request may take from start to last token
    request_timeout_s: float = 300.0
    #: extra tries of one request on 429, 5xx, timeouts and connection errors
    max_retries: int = 4
    #: first back-off in seconds; doubles each try, with jitter
    retry_base_s: float = 1.0
    #: the longest single back-off, unless the server's Retry-After asks for more
    retry_max_s: float = 30.0
    #: total seconds one call may spend backing off before it gives up with the
    #: queue's `Retry` (the job then waits in `scheduled`, not in a worker slot)
    retry_budget_s: float = 60.0
    #: offline provider: seconds per streamed chunk (a chunk is a few words)
    offline_delay_s: float = 0.05
    #: shared limits for all workers; None is unlimited
    rpm: int | None = None
    tpm: int | None = None
    #: the limits' window in seconds (60 for "per minute"; smaller in tests)
    ratelimit_period_s: float = 60.0
    #: longest wait for the shared limit before the job is handed back with `Retry`
    ratelimit_max_wait_s: float = 30.0

    @property
    def offline(self) -> bool:
        return not self.base_url

    @property
    def model_name(self) -> str:
        return self.model or ("offline" if self.offline else DEFAULT_MODEL)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LLMSettings:
        env = environment() if env is None else env
        return cls(
            base_url=(env.get("LLM_BASE_URL") or "").strip().rstrip("/"),
            api_key=(env.get("LLM_API_KEY") or "").strip(),
            model=(env.get("LLM_MODEL") or "").strip(),
            connect_timeout_s=_float(env, "LLM_CONNECT_TIMEOUT_S", cls.connect_timeout_s),
            read_timeout_s=_float(env, "LLM_READ_TIMEOUT_S", cls.read_timeout_s),
            request_timeout_s=_float(env, "LLM_TIMEOUT_S", cls.request_timeout_s),
            max_retries=_int(env, "LLM_MAX_RETRIES", cls.max_retries),
            retry_base_s=_float(env, "LLM_RETRY_BASE_S", cls.retry_base_s),
            retry_max_s=_float(env, "LLM_RETRY_MAX_S", cls.retry_max_s),
            retry_budget_s=_float(env, "LLM_RETRY_BUDGET_S", cls.retry_budget_s),
            offline_delay_s=_float(env, "LLM_OFFLINE_DELAY_S", cls.offline_delay_s),
            rpm=_limit(env, "LLM_RPM"),
            tpm=_limit(env, "LLM_TPM"),
            ratelimit_period_s=_float(env, "LLM_RATELIMIT_PERIOD_S", cls.ratelimit_period_s),
            ratelimit_max_wait_s=_float(
                env, "LLM_RATELIMIT_MAX_WAIT_S", cls.ratelimit_max_wait_s
            ),
        )
