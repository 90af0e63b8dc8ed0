"""Configuration from the environment (and `.env`), CONTRACT §2.

One family of pydantic-settings classes, all with the model config of `SettingsBase`:
environment variables first, then `.env` in the working directory; names that no field
uses are ignored. Each field names its variable in its alias and may be given by field
name or by variable name (`Settings(redis_url=...)` or `Settings(REDIS_URL=...)`).

    SettingsBase
    ├── Settings              the queue's, for every process (src/queue/settings.py)
    │   └── ApiSettings       plus what only the HTTP side needs (src/api/settings.py)
    └── LLMSettings           the agent tasks' model endpoint (src/worker/llm/settings.py)

A secret (`MASKED_FIELDS`) never appears in a settings object's repr, and `redis_url`
appears there with its password masked.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .keys import validate_namespace
from .redact import MASK, redact_url
from .schedules import Schedule
from .schedules import parse as parse_schedules

#: A list read from a comma-separated variable (`a, b,c` -> ["a", "b", "c"]).
CommaList = Annotated[list[str], NoDecode]


def split_commas(value: Any) -> Any:
    """The before-validator of every `CommaList` field: split, strip, drop empties."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class SettingsBase(BaseSettings):
    """The root of agentq's settings classes: one model config for all of them."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    #: fields whose value is a secret: shown as `***` in a repr
    MASKED_FIELDS: ClassVar[frozenset[str]] = frozenset()
    #: fields holding a URL that may carry a password: shown through `redact_url`
    URL_FIELDS: ClassVar[frozenset[str]] = frozenset()

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name in self.MASKED_FIELDS and value:
                value = MASK
            elif name in self.URL_FIELDS and isinstance(value, str):
                value = redact_url(value)
            yield name, value


class Settings(SettingsBase):
    """The queue's settings; every field maps to an environment variable of CONTRACT §2."""

    MASKED_FIELDS = frozenset({"webhook_secret"})
    URL_FIELDS = frozenset({"redis_url", "database_url"})

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
    #: the most running jobs of one concurrency key across all workers; 0: no limit
    key_concurrency: int = Field(0, alias="AGENTQ_KEY_CONCURRENCY", ge=0)
    #: `json`: every log line one JSON object (src/queue/logs.py); `text` for terminals
    log_format: Literal["text", "json"] = Field("text", alias="AGENTQ_LOG_FORMAT")
    # Callbacks (`callback_url` of a job): whoever finishes the job delivers them.
    webhook_secret: str = Field("", alias="AGENTQ_WEBHOOK_SECRET")
    callback_allow: CommaList = Field(default_factory=list, alias="AGENTQ_CALLBACK_ALLOW")
    callback_attempts: int = Field(5, alias="AGENTQ_CALLBACK_ATTEMPTS", ge=1, le=20)
    callback_backoff_s: float = Field(1.0, alias="AGENTQ_CALLBACK_BACKOFF_S", ge=0)
    callback_timeout_s: float = Field(10.0, alias="AGENTQ_CALLBACK_TIMEOUT_S", gt=0)
    # History (CONTRACT §4b): every job that ends is archived to this SQL database.
    database_url: str = Field("", alias="AGENTQ_DATABASE_URL")
    history_days: float = Field(90.0, alias="AGENTQ_HISTORY_DAYS", gt=0)
    #: most ended jobs waiting in Redis for the archiver (while the database is away)
    archive_max: int = Field(1_000_000, alias="AGENTQ_ARCHIVE_MAX", gt=0)
    #: cron schedules of tasks (a JSON list, src/queue/schedules.py), beside `@task(schedule=)`
    schedules: Annotated[list[Schedule], NoDecode] = Field(default_factory=list,
                                                           alias="AGENTQ_SCHEDULES")

    @field_validator("namespace")
    @classmethod
    def _valid_namespace(cls, v: str) -> str:
        return validate_namespace(v)

    @field_validator("key_concurrency", mode="before")
    @classmethod
    def _empty_is_no_cap(cls, v: Any) -> Any:
        return 0 if isinstance(v, str) and not v.strip() else v

    @field_validator("callback_allow", mode="before")
    @classmethod
    def _split_commas(cls, v: Any) -> Any:
        return split_commas(v)

    @field_validator("schedules", mode="before")
    @classmethod
    def _parse_schedules(cls, v: Any) -> Any:
        return parse_schedules(v)

    @property
    def archive_cap(self) -> int:
        """The archive list's cap the scripts use; 0 (nothing archived) without history."""
        return self.archive_max if self.database_url else 0

    @property
    def task_module_list(self) -> list[str]:
        return [m.strip() for m in self.task_modules.split(",") if m.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
