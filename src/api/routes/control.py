"""`/jobs/{id}/signals`, `/steps` and `/replay`: people in the loop of an agent.

A task that called `ctx.wait_for(name)` is `waiting` until `POST /jobs/{id}/signals/{name}`
arrives (or its wait runs out); the job page lists a job's stored steps and runs a job
again from one of them (`POST /jobs/{id}/replay`).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, HTTPException, Path

from src.api.deps import ClientDep, HistoryDep, JobId, read_history, require_api_key
from src.api.errors import prefixed_errors, unstorable, validation_error
from src.api.routes.jobs import _errors, _not_found
from src.api.schemas import ErrorDetail, JobPublic, ReplayRequest, StepsPublic
from src.queue import InvalidPayload, JobNotFound

router = APIRouter(
    prefix="/jobs", tags=["jobs"], dependencies=[Depends(require_api_key)], responses=_errors
)

SignalName = Annotated[str, Path(
    pattern=r"^[A-Za-z0-9_.:-]{1,100}$", description="The signal's name, as the task waits for it",
    examples=["approve"])]

_ended: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorDetail, "description": "The job has ended"}}


async def _ended_in_history(job_id: str, history: HistoryDep) -> dict[str, Any] | None:
    """The archived record of a job Redis no longer holds (it has ended), if any."""
    if history is None:
        return None
    return await read_history(history.get, job_id)


@router.post(
    "/{job_id}/signals/{name}",
    summary="Send a signal to a job",
    status_code=202,
    response_model=JobPublic,
    response_model_exclude_unset=True,
    responses={**_not_found, **_ended, 422: {"description": "Body is not storable JSON"}},
)
async def send_signal(
    job_id: JobId, name: SignalName, client: ClientDep, history: HistoryDep,
    data: Annotated[Any, Body(examples=[{"outline": ["Intro", "Tides", "Close"]},
                                        {"reject": "too long"}])] = None,
) -> dict[str, Any]:
    """Store the signal (any JSON body) for the job's `ctx.wait_for(name)`.

    A job `waiting` for it goes back to its queue and its task runs again from the top,
    its completed steps reused; a job that has not reached the wait yet finds the signal
    there. Answers the job's record as it is now; 409 once the job has ended.
    """
    try:
        orjson.dumps(data)
    except orjson.JSONEncodeError as exc:
        raise unstorable(("body",), exc) from exc
    try:
        return await client.signal(job_id, name, data)
    except JobNotFound:
        if (archived := await _ended_in_history(job_id, history)) is not None:
            raise HTTPException(409, f"cannot signal job {job_id}: it is "
                                     f"{archived['status']}") from None
        raise


@router.get(
    "/{job_id}/steps",
    summary="A job's stored steps",
    response_model=StepsPublic,
    responses=_not_found,
)
async def job_steps(job_id: JobId, client: ClientDep) -> dict[str, Any]:
    """The results of the job's durable steps (`ctx.step`, and `wait:{name}` for each signal a
    wait returned) in the order they completed; empty once the job's TTL has run out."""
    if await client.get(job_id) is None:
        raise JobNotFound(job_id)
    return {"steps": await client.steps(job_id)}


@router.post(
    "/{job_id}/replay",
    summary="Run a job again from one of its steps",
    status_code=202,
    response_model=JobPublic,
    response_model_exclude_unset=True,
    responses={**_not_found,
               422: {"description": "`from_step` is not a stored step, or the payload does "
                                    "not fit the task"}},
)
async def replay_job(job_id: JobId, body: ReplayRequest, client: ClientDep) -> dict[str, Any]:
    """A new job (`replay_of` names the original) whose steps before `from_step` are copied
    from the original, so only the steps from there on run again; `payload` replaces the
    original's when given. The original is left as it is."""
    has_payload = "payload" in body.model_fields_set
    try:
        return await client.replay(job_id, body.from_step, body.payload, has_payload=has_payload)
    except LookupError:  # JobNotFound is not one: it stays a 404
        raise validation_error(("body", "from_step"), "not a stored step of this job",
                               body.from_step) from None
    except InvalidPayload as exc:
        raise prefixed_errors(exc.validation_error, "body", "payload") from None
