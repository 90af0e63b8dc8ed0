"""Configuration from the environment (and `.env`), CONTRACT §2."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """The queue's settings; every field maps to an environment variable of CONTRACT §2."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    redis_url: str = Field("redis://127.0.0.1:6379/0", alias="REDIS_URL")
    redis_cluster: bool = Field(False, alias="AGENTQ_REDIS_CLUSTER")
    namespace: str = Field("agentq", alias="AGENTQ_NAMESPACE")
    result_ttl_s: int = Field(86_400, alias="AGENTQ_RESULT_TTL_S", gt=0)
    job_ttl_s: int = Field(604_800, alias="AGENTQ_JOB_TTL_S", gt=0)
    heartbeat_s: float = Field(5.0, alias="AGENTQ_HEARTBEAT_S", gt=0)
    worker_timeout_s: float = Field(30.0, alias="AGENTQ_WORKER_TIMEOUT_S", gt=0)
    retry_base_s: float = Field(1.0, alias="AGENTQ_RETRY_BASE_S", ge=0)
    retry_max_s: float = Field(300.0, alias="AGENTQ_RETRY_MAX_S", ge=0)
    shutdown_grace_s: float = Field(30.0, alias="AGENTQ_SHUTDOWN_GRACE_S", ge=0)
    dead_max: int = Field(10_000, alias="AGENTQ_DEAD_MAX", gt=0)
    jobs_index_max: int = Field(100_000, alias="AGENTQ_JOBS_INDEX_MAX", gt=0)
    task_modules: str = Field("", alias="AGENTQ_TASK_MODULES")

    @field_validator("namespace")
    @classmethod
    def _no_braces(cls, v: str) -> str:
        if not v or "{" in v or "}" in v or ":" in v:
            raise ValueError("AGENTQ_NAMESPACE must be non-empty without '{', '}' or ':'")
        return v

    @property
    def task_module_list(self) -> list[str]:
        return [m.strip() for m in self.task_modules.split(",") if m.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
