"""LLM settings, read from the environment (and `.env`) like every agentq setting."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from src.queue.settings import SettingsBase

DEFAULT_MODEL = "gpt-4o-mini"


class LLMSettings(SettingsBase):
    """Every knob of the LLM client, each with the variable behind it.

    With no `base_url` the offline provider answers (no network at all). An empty
    variable means its default (compose passes `LLM_RPM=` for "unset"). Frozen: one
    provider is kept per settings value.
    """

    model_config = SettingsConfigDict(frozen=True)
    MASKED_FIELDS = frozenset({"api_key"})
    URL_FIELDS = frozenset({"base_url"})

    base_url: str = Field("", alias="LLM_BASE_URL")
    api_key: str = Field("", alias="LLM_API_KEY")
    model: str = Field("", alias="LLM_MODEL")
    #: seconds to open a connection
    connect_timeout_s: float = Field(10.0, alias="LLM_CONNECT_TIMEOUT_S", gt=0)
    #: seconds without a byte from the server before a request is abandoned
    read_timeout_s: float = Field(60.0, alias="LLM_READ_TIMEOUT_S", gt=0)
    #: seconds one request may take from start to last token
    request_timeout_s: float = Field(300.0, alias="LLM_TIMEOUT_S", gt=0)
    #: extra tries of one request on 429, 5xx, timeouts and connection errors
    max_retries: int = Field(4, alias="LLM_MAX_RETRIES", ge=0)
    #: first back-off in seconds; doubles each try, with jitter
    retry_base_s: float = Field(1.0, alias="LLM_RETRY_BASE_S", ge=0)
    #: the longest single back-off, unless the server's Retry-After asks for more
    retry_max_s: float = Field(30.0, alias="LLM_RETRY_MAX_S", ge=0)
    #: total seconds one call may spend backing off before it gives up with the
    #: queue's `Retry` (the job then waits in `scheduled`, not in a worker slot)
    retry_budget_s: float = Field(60.0, alias="LLM_RETRY_BUDGET_S", ge=0)
    #: the most HTTP connections to the model server one worker process holds at once:
    #: each running call streams on its own, so keep it at least the worker's concurrency
    max_connections: int = Field(1000, alias="LLM_MAX_CONNECTIONS", ge=1)
    #: offline provider: seconds per streamed chunk (a chunk is a few words)
    offline_delay_s: float = Field(0.05, alias="LLM_OFFLINE_DELAY_S", ge=0)
    #: shared limits for all workers; None (empty or 0) is unlimited
    rpm: int | None = Field(None, alias="LLM_RPM")
    tpm: int | None = Field(None, alias="LLM_TPM")
    #: the limits' window in seconds (60 for "per minute"; smaller in tests)
    ratelimit_period_s: float = Field(60.0, alias="LLM_RATELIMIT_PERIOD_S", gt=0)
    #: longest wait for the shared limit before the job is handed back with `Retry`
    ratelimit_max_wait_s: float = Field(30.0, alias="LLM_RATELIMIT_MAX_WAIT_S", ge=0)
    #: ask a streaming server for the answer's token counts (`stream_options.include_usage`);
    #: turn off for a server that refuses the option (the counts are then estimated)
    stream_usage: bool = Field(True, alias="LLM_STREAM_USAGE")
    #: prices for the cost in each job's `usage`: JSON {"model": {"prompt": usd_per_1M,
    #: "completion": usd_per_1M}}; a model not listed costs null
    prices: str = Field("", alias="AGENTQ_LLM_PRICES")

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_default(cls, v: Any, info: ValidationInfo) -> Any:
        if not isinstance(v, str):
            return v
        v = v.strip()
        if v == "" and info.field_name is not None:
            return cls.model_fields[info.field_name].get_default(call_default_factory=True)
        return v

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, v: str) -> str:
        return v.rstrip("/")

    @field_validator("rpm", "tpm")
    @classmethod
    def _zero_is_unlimited(cls, v: int | None) -> int | None:
        return v if v is not None and v > 0 else None

    @field_validator("prices")
    @classmethod
    def _price_table(cls, v: str) -> str:
        _parse_prices(v)  # a clear error at start-up, not a wrong cost later
        return v

    def price_table(self) -> dict[str, tuple[float, float]]:
        """model -> (USD per million prompt tokens, per million completion tokens)."""
        return _parse_prices(self.prices)

    @property
    def offline(self) -> bool:
        return not self.base_url

    @property
    def model_name(self) -> str:
        return self.model or ("offline" if self.offline else DEFAULT_MODEL)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LLMSettings:
        """From the environment and `.env` (as `LLMSettings()`), or from `env` alone."""
        if env is None:
            return cls()
        # Every field given (empty means its default), so that nothing else is read.
        aliases = [f.alias for f in cls.model_fields.values() if f.alias]
        # Any: the values are strings, but `**` of a str dict would also be checked against
        # the non-field keyword arguments (`_case_sensitive`, ...) of the settings' __init__
        values: dict[str, Any] = {name: env.get(name, "") for name in aliases}
        return cls(_env_file=None, **values)


def _parse_prices(text: str) -> dict[str, tuple[float, float]]:
    if not text.strip():
        return {}
    try:
        table = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise ValueError(f"not JSON: {e}") from None
    if not isinstance(table, dict):
        raise ValueError('expected {"model": {"prompt": usd_per_1M, "completion": usd_per_1M}}')
    out: dict[str, tuple[float, float]] = {}
    for model, price in table.items():
        if not isinstance(price, dict) or set(price) - {"prompt", "completion"} or not all(
                isinstance(price.get(k, 0), int | float) and price.get(k, 0) >= 0
                for k in ("prompt", "completion")):
            raise ValueError(f"model {model!r}: expected {{\"prompt\": usd_per_1M, "
                             f"\"completion\": usd_per_1M}} with numbers >= 0")
        out[model] = (float(price.get("prompt", 0)), float(price.get("completion", 0)))
    return out
