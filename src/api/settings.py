"""The API's settings: the queue's own (CONTRACT §2) plus what only the HTTP side needs."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from src.queue.settings import Settings

CommaList = Annotated[list[str], NoDecode]


class ApiSettings(Settings):
    """Every field maps to an environment variable; lists are comma-separated."""

    api_keys: CommaList = Field(default_factory=list, alias="AGENTQ_API_KEYS")
    max_payload_bytes: int = Field(1_048_576, alias="AGENTQ_MAX_PAYLOAD_BYTES", gt=0)
    webhook_secret: str = Field("", alias="AGENTQ_WEBHOOK_SECRET")
    callback_allow: CommaList = Field(default_factory=list, alias="AGENTQ_CALLBACK_ALLOW")
    callback_attempts: int = Field(5, alias="AGENTQ_CALLBACK_ATTEMPTS", ge=1, le=20)
    callback_backoff_s: float = Field(1.0, alias="AGENTQ_CALLBACK_BACKOFF_S", ge=0)
    callback_timeout_s: float = Field(10.0, alias="AGENTQ_CALLBACK_TIMEOUT_S", gt=0)
    cors_origins: CommaList = Field(default_factory=list, alias="AGENTQ_CORS_ORIGINS")
    retry_after_s: int = Field(5, alias="AGENTQ_RETRY_AFTER_S", ge=1)
    web_dir: str = Field("web/out", alias="AGENTQ_WEB_DIR")

    @field_validator("api_keys", "callback_allow", "cors_origins", mode="before")
    @classmethod
    def _split_commas(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [item.strip() for item in v.split(",") if item.strip()]
        return v


@lru_cache
def get_settings() -> ApiSettings:
    """The process-wide settings, read once; tests swap them through `create_app(settings)`."""
    return ApiSettings()
