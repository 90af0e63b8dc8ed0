"""The API's settings: the queue's own (CONTRACT §2) plus what only the HTTP side needs."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import Field, field_validator

from src.api.ratelimit import Rate
from src.queue.settings import CommaList, Settings, split_commas


class ApiSettings(Settings):
    """Every field maps to an environment variable; lists are comma-separated.

    The callback settings (`AGENTQ_WEBHOOK_SECRET`, `AGENTQ_CALLBACK_*`) are inherited
    from `Settings`: the workers deliver callbacks too.
    """

    MASKED_FIELDS = Settings.MASKED_FIELDS | {"api_keys"}

    api_keys: CommaList = Field(default_factory=list, alias="AGENTQ_API_KEYS")
    max_payload_bytes: int = Field(1_048_576, alias="AGENTQ_MAX_PAYLOAD_BYTES", gt=0)
    cors_origins: CommaList = Field(default_factory=list, alias="AGENTQ_CORS_ORIGINS")
    retry_after_s: int = Field(5, alias="AGENTQ_RETRY_AFTER_S", ge=1)
    web_dir: str = Field("web/out", alias="AGENTQ_WEB_DIR")
    #: `POST /jobs` per caller, e.g. `600/minute`; empty: no limit (src/api/ratelimit.py)
    rate_limit: str = Field("", alias="AGENTQ_RATE_LIMIT")

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_api_lists(cls, v: Any) -> Any:
        return split_commas(v)

    @field_validator("rate_limit")
    @classmethod
    def _readable_rate(cls, v: str) -> str:
        Rate.parse(v)  # ValueError naming AGENTQ_RATE_LIMIT when it cannot be read
        return v


@lru_cache
def get_settings() -> ApiSettings:
    """The process-wide settings, read once; tests swap them through `create_app(settings)`."""
    return ApiSettings()
