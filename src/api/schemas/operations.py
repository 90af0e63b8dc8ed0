"""Response models of the operator's routes: queues, workers, usage, schedules, health,
webhooks (OpenAPI schemas with examples)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from src.queue.models import Status

from .jobs import Timestamp


class QueueStats(BaseModel):
    name: str = Field(examples=["default"])
    queued: int = Field(ge=0)
    running: int = Field(ge=0)
    enqueued: int = Field(ge=0)
    succeeded: int = Field(ge=0)
    failed: int = Field(ge=0)
    retried: int = Field(ge=0)
    recovered: int = Field(ge=0)
    cancelled: int = Field(ge=0)


class UsageRow(BaseModel):
    """LLM use of one tenant with one model over the recent minutes."""

    tenant: str = Field(examples=["acme"])
    model: str = Field(examples=["gpt-4o-mini"])
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    calls: int = Field(ge=0)
    cost: float | None = Field(None, description="US dollars (AGENTQ_LLM_PRICES); null "
                                                 "without a price")


# Sent by GET /usage.
class UsagePerTenant(BaseModel):
    """LLM tokens per tenant and model over the last `minutes`, most tokens first."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"minutes": 60, "usage": [
        {"tenant": "acme", "model": "gpt-4o-mini", "prompt_tokens": 12400,
         "completion_tokens": 30800, "calls": 42, "cost": 0.0203}]}]})

    minutes: int
    usage: list[UsageRow]


class TenantCounts(BaseModel):
    tenant: str = Field(examples=["default"])
    queued: int = Field(ge=0)
    running: int = Field(ge=0)
    estimated: bool = Field(
        False, description="true when a queue was too long to read whole: `queued` is "
                           "counted from its oldest jobs, in proportion")


class KeyCounts(BaseModel):
    """Jobs of one concurrency key (a job's `concurrency_key`, by default its tenant)."""

    key: str = Field(examples=["acme"])
    queued: int = Field(ge=0)
    running: int = Field(ge=0)


# Sent by GET /queues.
class QueuesPublic(BaseModel):
    """Counts per queue, and overall."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "queues": [
                        {
                            "name": "default",
                            "queued": 3,
                            "running": 1,
                            "enqueued": 10,
                            "succeeded": 8,
                            "failed": 1,
                            "retried": 2,
                            "recovered": 0,
                            "cancelled": 0,
                        }
                    ],
                    "scheduled": 0,
                    "waiting": 1,
                    "dead": 1,
                    "workers": 2,
                }
            ]
        }
    )

    queues: list[QueueStats]
    scheduled: int = Field(ge=0)
    waiting: int = Field(0, ge=0, description="Jobs waiting for a signal (`ctx.wait_for`)")
    dead: int = Field(ge=0)
    workers: int = Field(ge=0)
    tenants: list[TenantCounts] = Field(
        default_factory=list,
        description="Queued and running jobs per tenant: the key's own tenant, or the ten "
                    "busiest for an admin key (or without keys); empty without a key")
    keys: list[KeyCounts] = Field(
        default_factory=list,
        description="Queued and running jobs of the ten busiest concurrency keys (fair shares "
                    "between keys): for an admin key or without keys; a tenant's key sees its "
                    "own key only; empty without a key")


class WorkerPublic(BaseModel):
    id: str = Field(examples=["host-1234-ab12"])
    host: str | None = None
    pid: int | None = None
    queues: list[str] = Field(default_factory=list)
    concurrency: int | None = None
    jobs: list[str] = Field(default_factory=list, description="Ids of the jobs it runs now")
    last_heartbeat: Timestamp = None


# Sent by GET /workers.
class WorkersPublic(BaseModel):
    """Live workers."""

    workers: list[WorkerPublic]


# Sent by POST /webhooks/{source}.
class WebhookAccepted(BaseModel):
    """The `webhook_event` job the delivery was turned into."""

    id: str = Field(examples=["01JD6Z5Q3M8X4K2V7B9N0C1D2E"])
    type: Literal["webhook_event"] = "webhook_event"
    status: Status = Field(examples=["queued"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    """`status` is `ready` with 200, `unavailable` with 503."""

    status: Literal["ready", "unavailable"] = Field(examples=["ready"])
    redis: str = Field(examples=["ok"])
    workers: int | None = Field(None, examples=[2])
    history: Literal["ok", "behind"] | None = Field(
        None, description="With a history database: `behind` while many ended jobs wait to be "
                          "archived (the database is away or slow)")
    history_backlog: int | None = Field(None, description="Ended jobs not yet archived")


class SchedulePublic(BaseModel):
    """A cron schedule (`@task(schedule=...)` or `AGENTQ_SCHEDULES`) and when it runs."""

    name: str = Field(examples=["inbox-digest"])
    task: str = Field(description="The task type it enqueues", examples=["summarise"])
    type: str = Field(description="The same as `task` (the name CONTRACT §4 gives it)",
                      examples=["summarise"])
    cron: str = Field(description="5 fields, or 6 with seconds last", examples=["0 * * * *"])
    timezone: str = Field(description="The zone the cron fields are read in",
                          examples=["Europe/Paris"])
    queue: str = Field(examples=["default"])
    payload: Any = Field(examples=[{"mailbox": "support"}])
    next_run: Timestamp = Field(description="The next tick, ISO UTC")
    last_run: Timestamp = Field(None, description="The last tick a job was enqueued for; "
                                                  "null if none yet")
    catch_up: bool = Field(description="Whether the most recent tick missed while no worker "
                                       "ran is enqueued when one starts")


# Sent by GET /schedules.
class SchedulesPublic(BaseModel):
    """Every schedule this process knows, by name."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "schedules": [
                        {
                            "name": "inbox-digest",
                            "task": "summarise",
                            "type": "summarise",
                            "cron": "0 * * * *",
                            "timezone": "Europe/Paris",
                            "queue": "default",
                            "payload": {"mailbox": "support"},
                            "next_run": "2026-11-22T09:00:00.000Z",
                            "last_run": "2026-11-22T08:00:00.000Z",
                            "catch_up": False,
                        }
                    ]
                }
            ]
        }
    )

    schedules: list[SchedulePublic]
