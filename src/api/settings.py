"""The API's settings: the queue's own (CONTRACT §2) plus what only the HTTP side needs."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from src.api.ratelimit import Rate
from src.api.tenants import KeyRing, parse_webhook_tenants
from src.queue.settings import CommaList, Settings, split_commas


class ApiSettings(Settings):
    """Every field maps to an environment variable; lists are comma-separated.

    The callback settings (`AGENTQ_WEBHOOK_SECRET`, `AGENTQ_CALLBACK_*`) are inherited
    from `Settings`: the workers deliver callbacks too.
    """

    # An error shows no input: the values of the key lists are secrets.
    model_config = SettingsConfigDict(**Settings.model_config, hide_input_in_errors=True)
    MASKED_FIELDS = Settings.MASKED_FIELDS | {"api_keys", "admin_keys"}

    #: `key` or `tenant:key` entries (src/api/tenants.py)
    api_keys: CommaList = Field(default_factory=list, alias="AGENTQ_API_KEYS")
    #: keys that see and act on every tenant's jobs, written as those of `api_keys`
    admin_keys: CommaList = Field(default_factory=list, alias="AGENTQ_ADMIN_KEYS")
    #: `source:tenant` entries: the tenant of the jobs of `POST /webhooks/{source}`
    webhook_tenants: CommaList = Field(default_factory=list, alias="AGENTQ_WEBHOOK_TENANTS")
    max_payload_bytes: int = Field(1_048_576, alias="AGENTQ_MAX_PAYLOAD_BYTES", gt=0)
    cors_origins: CommaList = Field(default_factory=list, alias="AGENTQ_CORS_ORIGINS")
    retry_after_s: int = Field(5, alias="AGENTQ_RETRY_AFTER_S", ge=1)
    web_dir: str = Field("web/out", alias="AGENTQ_WEB_DIR")
    #: `POST /jobs` per caller, e.g. `600/minute`; empty: no limit (src/api/ratelimit.py)
    rate_limit: str = Field("", alias="AGENTQ_RATE_LIMIT")

    @field_validator("api_keys", "admin_keys", "webhook_tenants", "cors_origins", mode="before")
    @classmethod
    def _split_api_lists(cls, v: Any) -> Any:
        return split_commas(v)

    @field_validator("rate_limit")
    @classmethod
    def _readable_rate(cls, v: str) -> str:
        Rate.parse(v)  # ValueError naming AGENTQ_RATE_LIMIT when it cannot be read
        return v

    @model_validator(mode="after")
    def _readable_tenants(self) -> ApiSettings:
        self.key_ring()  # ValueError naming the variable and the entry, never the key
        parse_webhook_tenants(self.webhook_tenants)
        return self

    def key_ring(self) -> KeyRing:
        """The API keys and admin keys, each with its tenant."""
        return KeyRing(self.api_keys, self.admin_keys)

    def webhook_tenant_map(self) -> dict[str, str]:
        """{source: tenant} of AGENTQ_WEBHOOK_TENANTS."""
        return parse_webhook_tenants(self.webhook_tenants)


@lru_cache
def get_settings() -> ApiSettings:
    """The process-wide settings, read once; tests swap them through `create_app(settings)`."""
    return ApiSettings()
