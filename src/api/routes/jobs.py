"""`/jobs`: submit, read, follow (Server-Sent Events), cancel, retry and list jobs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BeforeValidator

from src.api import streams
from src.api.deps import (
    CallerDep,
    ClientDep,
    HistoryDep,
    JobDep,
    JobId,
    OwnedJobId,
    SettingsDep,
    read_history,
    require_api_key,
    visible_or_404,
)
from src.api.errors import prefixed_errors, unstorable, validation_error
from src.api.schemas import (
    QUEUE_PATTERN,
    ErrorDetail,
    JobCreate,
    JobEvent,
    JobPublic,
    JobsPublic,
)
from src.queue import TERMINAL, InvalidPayload, Status, UnknownTask, registry
from src.queue.callbacks import CallbackRefused, check_callback_url_syntax
from src.queue.models import iso
from src.queue.tracing import enqueue_span

_errors: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorDetail,
        "description": "Missing or wrong API key (when AGENTQ_API_KEYS is set)",
    },
    503: {"model": ErrorDetail, "description": "Redis is unreachable; see Retry-After"},
}
_not_found: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorDetail, "description": "Unknown or expired job"},
}


def _json_errors(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """The same error answers, documented as JSON on a route whose own media type is not."""
    ref = {"$ref": "#/components/schemas/ErrorDetail"}
    return {
        code: {"description": r["description"], "content": {"application/json": {"schema": ref}}}
        for code, r in responses.items()
    }


router = APIRouter(
    prefix="/jobs", tags=["jobs"], dependencies=[Depends(require_api_key)], responses=_errors
)


_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _iso_only(value: Any) -> Any:
    """A time parameter must be ISO 8601: a bare number (which pydantic would read as
    epoch seconds) is refused, as the schema says."""
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        raise ValueError("an ISO 8601 date-time, not a number")
    return value


def _key_of(tenant: str | None, key: str | None) -> str | None:
    """The concurrency key a job asks for, within its tenant's own names."""
    return f"{tenant}/{key}" if tenant and key else key


@router.post(
    "",
    summary="Submit a job",
    status_code=202,
    response_model=JobPublic,
    response_model_exclude_unset=True,  # no `archived`: a live record
    responses={
        200: {
            "model": JobPublic,
            "description": "Finished within `wait`, or the earlier job with that idempotency key",
        },
        202: {"description": "Accepted: the job record, and `Location: /jobs/{id}`"},
        413: {"model": ErrorDetail, "description": "Body larger than AGENTQ_MAX_PAYLOAD_BYTES"},
        422: {"description": "Unknown task type, or a payload field that fails the task's model"},
    },
)
async def create_job(
    job: JobCreate,
    client: ClientDep,
    settings: SettingsDep,
    response: Response,
    request: Request,
    caller: CallerDep,
    wait: Annotated[
        float,
        Query(
            ge=0, le=60, description="Hold the answer up to this many seconds until the job ends"
        ),
    ] = 0,
) -> dict[str, Any]:
    """Submit a job; its payload is validated against the task's model (422 naming the field)."""
    if job.type not in registry:
        exc = UnknownTask(job.type)
        raise validation_error(("body", "type"), str(exc), job.type, "unknown_task")
    if job.callback_url is not None:
        try:
            check_callback_url_syntax(job.callback_url, settings.callback_allow)
        except CallbackRefused as exc:
            raise validation_error(("body", "callback_url"), str(exc), job.callback_url) from exc

    # The job's trace: a PRODUCER span under the request's (or continuing the caller's
    # `traceparent` header); the envelope carries it to the worker (CONTRACT §9).
    with enqueue_span(job.type, job.queue, request.headers.get("traceparent")) as span:
        try:
            enqueued = await client.enqueue(
                job.type,
                job.payload,
                queue=job.queue,
                max_attempts=job.max_attempts,
                timeout_s=job.timeout_s,
                max_tokens=job.max_tokens,
                delay_s=job.delay_s,
                idempotency_key=job.idempotency_key,
                callback_url=job.callback_url,
                traceparent=span.traceparent,
                tenant=caller.stamp,
                concurrency_key=_key_of(caller.stamp, job.concurrency_key),
            )
        except InvalidPayload as exc:  # the task's model names the field
            raise prefixed_errors(exc.validation_error, "body", "payload") from exc
        except orjson.JSONEncodeError as exc:  # valid JSON that cannot be stored as compact JSON
            raise unstorable(("body", "payload"), exc) from exc
        span.job_id(enqueued.id)
    record = enqueued.record
    response.headers["Location"] = f"/jobs/{enqueued.id}"
    if wait > 0 and record["status"] not in TERMINAL:
        record = await client.wait(enqueued.id, timeout_s=wait) or record
    if not enqueued.created or record["status"] in TERMINAL:
        response.status_code = 200
    return record


# Unset fields stay out: `archived` appears only on records from the history database.
@router.get("", response_model=JobsPublic, response_model_exclude_unset=True,
            summary="List jobs")
async def list_jobs(
    client: ClientDep,
    history: HistoryDep,
    caller: CallerDep,
    status: Status | None = None,
    type: Annotated[str | None, Query(max_length=200)] = None,
    queue: Annotated[str | None, Query(pattern=QUEUE_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[
        str | None, Query(max_length=128, description="A job id: list the jobs older than it")
    ] = None,
    since: Annotated[
        datetime | None, BeforeValidator(_iso_only),
        Query(description="Created at or after this time (ISO 8601)"),
    ] = None,
    until: Annotated[
        datetime | None, BeforeValidator(_iso_only),
        Query(description="Created before this time (ISO 8601)"),
    ] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200,
                          description="Text to find in the payload or the error message")
    ] = None,
) -> dict[str, Any]:
    """Jobs, newest first, filtered; page with `before=<next_before>`. With a history
    database the list goes on past what Redis still holds (archived jobs say so). A key
    sees its own tenant's jobs only (an admin key every tenant's)."""
    filters = {"status": status.value if status else None, "type": type, "queue": queue,
               "q": q, "tenant": caller.scope}
    live, live_next = await client.list(
        limit=limit, before=before, since=_iso(since), until=_iso(until), **filters)
    if history is None:
        return {"jobs": live, "next_before": live_next}
    archived = await read_history(history.list, limit=limit, before=before, since=since,
                                  until=until, **filters)
    merged = {r["id"]: r for r in archived} | {r["id"]: r for r in live}  # Redis is newer
    jobs = sorted(merged.values(), key=lambda r: r["id"], reverse=True)
    if live_next is not None and len(live) < limit:
        # Redis's window ended before `limit` matches: go on from there next time
        jobs = [r for r in jobs if r["id"] >= live_next]
    jobs = jobs[:limit]
    if len(jobs) == limit:
        return {"jobs": jobs, "next_before": jobs[-1]["id"]}
    return {"jobs": jobs, "next_before": live_next}


def _iso(at: datetime | None) -> str | None:
    """A time as records write it (UTC, milliseconds, `Z`), so strings compare in order."""
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return iso(at.timestamp())


@router.get("/{job_id}", response_model=JobPublic, response_model_exclude_unset=True,
            responses=_not_found, summary="Read a job")
async def get_job(job: JobDep) -> dict[str, Any]:
    """The job's record."""
    return job


@router.get(
    "/{job_id}/events",
    summary="Follow a job (Server-Sent Events)",
    response_class=streams.EventStream,
    responses={
        **_json_errors({**_errors, **_not_found}),
        200: {
            "content": {
                "text/event-stream": {
                    "itemSchema": {
                        "type": "object",
                        "properties": {
                            "event": {"type": "string"},
                            "id": {"type": "string", "examples": ["1732262400000-0"]},
                            "retry": {"type": "integer", "minimum": 0},
                            "data": {
                                "type": "string",
                                "contentMediaType": "application/json",
                                "contentSchema": JobEvent.model_json_schema(),
                            },
                        },
                    }
                }
            },
            "description": (
                "Server-Sent Events: one per progress or status change. Each `data` is the JSON "
                "event (`type` is `status`, `progress` or `partial`), each `id` a stream id that "
                "`Last-Event-ID` resumes after. The stream ends after the terminal status event."
            ),
        },
    },
)
async def job_events(
    request: Request,
    job_id: JobId,
    client: ClientDep,
    history: HistoryDep,
    caller: CallerDep,
    # `str` (not `str | None`): an absent header is None, and the schema offers no `null`
    # that a client could send as the text "null".
    last_event_id: Annotated[
        str,
        Header(
            alias="Last-Event-ID",
            pattern=r"^\d{1,20}-\d{1,20}$",
            description="Resume after this event id (browsers send it when they reconnect)",
        ),
    ] = None,  # type: ignore[assignment]
) -> streams.EventStream:
    """Follow a job: its progress and status changes as Server-Sent Events."""
    after = last_event_id or "0-0"
    hub = request.app.state.hub
    # Through the hub, a thousand viewers opening one job read its record once.
    record = await (hub.record(job_id) if hub is not None else client.get(job_id))
    if record is None and history is not None:
        archived = await read_history(history.get, job_id)
        if archived is not None:  # Redis forgot it: its final state is all there is
            archived = visible_or_404(caller, job_id, archived)
            return streams.EventStream(streams.final_only(archived, after),
                                       request.app.state.metrics.sse_followers)
    # The tenant check of `job_for_tenant`, on the record read through the hub.
    record = visible_or_404(caller, job_id, record)
    events = (
        streams.follow(hub, record, after)
        if hub is not None
        else streams.follow_per_stream(client, record, after)
    )
    return streams.EventStream(events, request.app.state.metrics.sse_followers)


@router.post(
    "/{job_id}/cancel",
    summary="Cancel a job",
    status_code=202,
    response_model=JobPublic,
    response_model_exclude_unset=True,  # no `archived`: a live record
    responses={**_not_found, 409: {"model": ErrorDetail, "description": "Already finished"}},
)
async def cancel_job(job_id: OwnedJobId, client: ClientDep) -> dict[str, Any]:
    """Cancel: a queued job at once, a running one within a heartbeat; 409 if finished."""
    return await client.cancel(job_id)


@router.post(
    "/{job_id}/retry",
    summary="Retry a failed or cancelled job",
    status_code=202,
    response_model=JobPublic,
    response_model_exclude_unset=True,  # no `archived`: a live record
    responses={**_not_found, 409: {"model": ErrorDetail, "description": "Not failed or cancelled"}},
)
async def retry_job(job_id: OwnedJobId, client: ClientDep) -> dict[str, Any]:
    """Run a failed or cancelled job again, from attempt 1; 409 otherwise."""
    return await client.retry(job_id)
