"""`/jobs`: submit, read, follow (Server-Sent Events), cancel, retry and list jobs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BeforeValidator, TypeAdapter
from starlette.types import Scope

from src.api import fastpath, streams
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
from src.api.settings import ApiSettings
from src.api.tenants import Caller
from src.queue import TERMINAL, Client, InvalidPayload, Status, UnknownTask, registry
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
    prefix="/jobs", tags=["jobs"], dependencies=[Depends(require_api_key)], responses=_errors,
    route_class=fastpath.FastPathRoute,  # POST /jobs and GET /jobs/{id}: src/api/fastpath.py
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
    record, status, location = await _submit(
        job, client, settings, caller, request.headers.get("traceparent"), wait)
    response.headers["Location"] = location
    response.status_code = status
    return record


async def _submit(job: JobCreate, client: Client, settings: ApiSettings, caller: Caller,
                  traceparent: str | None, wait: float) -> tuple[dict[str, Any], int, str]:
    """`POST /jobs` once the request is read: the record, 202 or 200, and its Location."""
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
    with enqueue_span(job.type, job.queue, traceparent) as span:
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
    if wait > 0 and record["status"] not in TERMINAL:
        record = await client.wait(enqueued.id, timeout_s=wait) or record
    status = 200 if not enqueued.created or record["status"] in TERMINAL else 202
    return record, status, f"/jobs/{enqueued.id}"


#: What FastAPI does with a record under `response_model=JobPublic` and
#: `response_model_exclude_unset=True`: validated, then dumped to JSON by pydantic.
_PUBLIC = TypeAdapter(JobPublic)


#: JobPublic's fields in its order, and those that are models of their own
_PUBLIC_FIELDS = tuple(JobPublic.model_fields)
_NESTED = ("error", "waiting_for", "usage", "schedule")


def _public_json(record: dict[str, Any]) -> bytes:
    return _PUBLIC.dump_json(_PUBLIC.validate_python(record), exclude_unset=True)


def _new_record_json(record: dict[str, Any]) -> bytes:
    """`_public_json` of a record `make_record` has just built from a valid request: the
    same bytes (its fields in JobPublic's order, the others left out), without checking
    again what was built from checked values. Anything nested goes through pydantic."""
    if any(record.get(name) is not None for name in _NESTED):
        return _public_json(record)
    return orjson.dumps({name: record[name] for name in _PUBLIC_FIELDS if name in record})


def _json_body(scope: Scope) -> bool:
    """Whether the request says its body is JSON (`application/json`, any parameters)."""
    kind = fastpath.header(scope, b"content-type")
    return kind is not None and kind.split(";", 1)[0].strip().lower() == "application/json"


async def _create_job_fast(scope: Scope, body: bytes) -> Response | None:
    """`POST /jobs` without `?wait=`, with a valid key and a JSON body that `JobCreate`
    accepts (src/api/fastpath.py); anything else goes through FastAPI."""
    if scope["query_string"] or not _json_body(scope):
        return None
    caller = fastpath.caller_of(scope)
    if caller is None:
        return None
    try:  # read as FastAPI reads it (json.loads: integers past 64 bits stay integers)
        job = JobCreate.model_validate(json.loads(body))
    except Exception:  # noqa: BLE001 - bad JSON, a field, nesting past the recursion limit
        return None  # FastAPI gives its answer (422 naming the field, 400)
    state = scope["app"].state
    record, status, location = await _submit(
        job, state.client, state.settings, caller, fastpath.header(scope, b"traceparent"), 0)
    # 202: the record this request made; 200: the earlier job of its idempotency key
    content = _new_record_json(record) if status == 202 else _public_json(record)
    return fastpath.json_response(content, status, location)


fastpath.attach(router, create_job, _create_job_fast, reads_body=True)


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


async def _get_job_fast(scope: Scope, body: bytes) -> Response | None:
    """`GET /jobs/{id}` of a job Redis holds and the caller may see (src/api/fastpath.py);
    an unknown, archived or hidden job goes through FastAPI (404, or the history)."""
    caller = fastpath.caller_of(scope)
    job_id = scope["path_params"].get("job_id")
    if caller is None or not isinstance(job_id, str) or not 1 <= len(job_id) <= 128:
        return None
    record = await scope["app"].state.client.get(job_id)
    if record is None or not caller.sees(record):
        return None
    return fastpath.json_response(_public_json(record), 200)


fastpath.attach(router, get_job, _get_job_fast)


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
