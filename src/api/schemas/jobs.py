"""What `/jobs*` receives and sends, and the types the other schemas share; kept apart
from the queue's own models.

Naming follows one family: `JobCreate` is received, `JobPublic`/`JobsPublic` are sent.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from src.queue.models import Status

QUEUE_PATTERN = r"^[A-Za-z0-9_.\-]{1,64}$"
SOURCE_PATTERN = r"^[A-Za-z0-9_.\-]{1,64}$"


def _utf8(value: str) -> str:
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


#: Text that can be stored: JSON allows lone surrogates ("\ud800"), UTF-8 does not.
Text = Annotated[str, AfterValidator(_utf8)]

#: ISO-8601 UTC time with milliseconds, e.g. "2026-11-22T08:00:00.000Z", kept as the record has it
Timestamp = Annotated[str | None, Field(json_schema_extra={"format": "date-time"})]

_RECORD_EXAMPLE: dict[str, Any] = {
    "id": "01JD6Z5Q3M8X4K2V7B9N0C1D2E",
    "type": "add",
    "queue": "default",
    "status": "succeeded",
    "progress": 100,
    "message": None,
    "payload": {"x": 2, "y": 3},
    "result": 5,
    "error": None,
    "attempt": 1,
    "max_attempts": 3,
    "created_at": "2026-11-22T08:00:00.000Z",
    "started_at": "2026-11-22T08:00:00.004Z",
    "finished_at": "2026-11-22T08:00:00.006Z",
    "worker": "host-1234-ab12",
}


class ErrorDetail(BaseModel):
    """Every error answer: `{"detail": ...}` (a message, or a list naming the bad fields)."""

    detail: Any = Field(examples=["job 01JD6Z5Q3M8X4K2V7B9N0C1D2E not found"])


# Received by POST /jobs.
class JobCreate(BaseModel):
    """A job to run. `payload` is checked against the task's input model at once."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"type": "add", "payload": {"x": 2, "y": 3}},
                {
                    "type": "generate_article",
                    "payload": {"topic": "Redis lists", "length": "short"},
                    "queue": "default",
                    "max_attempts": 3,
                    "idempotency_key": "article-redis-lists",
                },
                {"type": "sleep", "payload": {"seconds": 2}, "delay_s": 10},
            ]
        },
    )

    type: Text = Field(
        min_length=1, max_length=200, description="A registered task type", examples=["add"]
    )
    payload: dict[str, Any] = Field(
        default_factory=dict,
        description="The task's input, validated against its pydantic model",
        examples=[{"x": 2, "y": 3}],
    )
    queue: str = Field("default", pattern=QUEUE_PATTERN, description="Queue (list) to put it on")
    max_attempts: int | None = Field(
        None, ge=1, le=100, description="Attempts before it fails for good (default: the task's)"
    )
    timeout_s: float | None = Field(
        None, gt=0, le=7 * 86_400, description="Seconds one attempt may run (default: the task's)"
    )
    max_tokens: int | None = Field(
        None, gt=0, le=10**12,
        description="Most LLM tokens (prompt + completion) the job may use over all its "
                    "attempts; past it the job fails with error type `budget` (default: the "
                    "task's, else no budget)",
    )
    delay_s: float = Field(
        0, ge=0, le=30 * 86_400, description="Run no earlier than this many seconds from now"
    )
    idempotency_key: Text | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="The same key again returns the first job (200) instead of a new one",
    )
    callback_url: Text | None = Field(
        None,
        max_length=2048,
        description="POSTed the finished record, signed with X-Signature-256 when a secret is set",
        examples=["https://example.com/hooks/agentq"],
    )
    concurrency_key: str | None = Field(
        None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-/]+$",
        description="Jobs of one key share the workers fairly with other keys and count "
                    "against its limit; by default the tenant. A tenant's own key `k` is kept "
                    "as `<tenant>/k`", examples=["reports"])


class JobErrorPublic(BaseModel):
    type: Literal["exception", "timeout", "lost", "cancelled", "invalid", "budget"]
    message: str


class JobSchedulePublic(BaseModel):
    name: str = Field(examples=["inbox-digest"])
    tick: str = Field(description="The tick (ISO UTC) the job was enqueued for",
                      examples=["2026-11-22T08:00:00.000Z"],
                      json_schema_extra={"format": "date-time"})
class UsagePublic(BaseModel):
    """The LLM usage of a job, over all its attempts."""

    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    calls: int = Field(ge=0, description="LLM calls that got an answer")
    cost: float | None = Field(
        None, description="US dollars from AGENTQ_LLM_PRICES; null when no model used had a "
                          "price")
    estimated: bool | None = Field(
        None, description="true when some call's counts were estimated (the server reported "
                          "none); absent otherwise")


# Sent by every /jobs endpoint that answers with one job.
class WaitingFor(BaseModel):
    """What a `waiting` job waits for (`ctx.wait_for`)."""

    name: str = Field(description="The signal's name", examples=["approve"])
    until: Timestamp = Field(None, description="When the wait runs out (the task then gets "
                                               "WaitTimeout)")


class JobPublic(BaseModel):
    """A job record (CONTRACT §3)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_RECORD_EXAMPLE]})

    id: str = Field(description="ULID")
    type: str
    queue: str
    status: Status
    progress: int = Field(ge=0, le=100, description="0-100, never down within one attempt")
    message: str | None = Field(None, description="Latest progress message")
    payload: Any = None
    result: Any = Field(None, description="The task's return value once succeeded")
    error: JobErrorPublic | None = None
    attempt: int = Field(ge=0)
    max_attempts: int = Field(ge=1)
    created_at: Timestamp = None
    started_at: Timestamp = None
    finished_at: Timestamp = None
    worker: str | None = Field(None, description="The worker that runs or ran the current attempt")
    waiting_for: WaitingFor | None = Field(
        None, description="While `waiting`: the signal the job waits for; absent otherwise")
    replay_of: str | None = Field(
        None, description="The job this one replays (`POST /jobs/{id}/replay`); absent otherwise")
    concurrency_key: str | None = Field(
        None, description="The key the job shares the workers fairly under (by default its "
                          "tenant); absent for the default tenant's jobs without one")
    max_tokens: int | None = Field(None, description="The job's LLM token budget, when it set one")
    usage: UsagePublic | None = Field(
        None, description="LLM tokens and cost so far; absent until the job's first LLM call")
    archived: bool | None = Field(
        None, description="true when the record comes from the history database (Redis no "
                          "longer holds the job); absent otherwise")
    tenant: str | None = Field(
        None, description="The tenant of the key that created the job; absent: `default`")
    schedule: JobSchedulePublic | None = Field(
        None, description="The cron schedule and tick that enqueued the job; absent otherwise")


# Sent by GET /jobs.
class JobsPublic(BaseModel):
    """A page of jobs, newest first; pass `next_before` as `before` for the next page."""

    jobs: list[JobPublic]
    next_before: str | None = Field(
        None, description="Id to pass as `before`; null on the last page"
    )


class JobEvent(BaseModel):
    """The JSON `data` of one Server-Sent Event of `GET /jobs/{id}/events`."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "progress",
                    "progress": 40,
                    "message": "Drafting section 2 of 4",
                    "at": "2026-11-22T08:00:04.000Z",
                },
                {
                    "type": "status",
                    "status": "succeeded",
                    "progress": 100,
                    "message": None,
                    "attempt": 1,
                    "error": None,
                    "at": "2026-11-22T08:00:09.000Z",
                },
            ]
        },
    )

    type: Literal["status", "progress", "partial"]
    at: str | None = None


# Sent to POST /jobs/{id}/replay.
class ReplayRequest(BaseModel):
    """Run a job's task again as a new job, from one of its stored steps."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"from_step": "section-2"},
                     {"from_step": "outline", "payload": {"topic": "Tides", "tone": "playful"}}]})

    from_step: str | None = Field(None, min_length=1, max_length=200,
                                  description="The first step to run again; the steps before "
                                              "it are copied from the original job. Absent: "
                                              "every step runs again")
    payload: Any = Field(None, description="A new payload for the replay; the original's "
                                           "when absent")


class StepPublic(BaseModel):
    """One stored step of a job, in completion order."""

    name: str = Field(examples=["outline"])
    result: Any = Field(None, description="What the step returned (JSON)")


class StepsPublic(BaseModel):
    """A job's stored steps (`ctx.step`, and `wait:{name}` for each signal a wait returned)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"steps": [
        {"name": "outline", "result": ["Intro", "Tides", "Close"]},
        {"name": "wait:approve", "result": {}}, {"name": "section-1", "result": "..."}]}]})

    steps: list[StepPublic]
