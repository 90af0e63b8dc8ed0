"""`/schedules`: the cron schedules the workers run, with their next and last ticks."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request

from src.api.deps import ClientDep, require_api_key
from src.api.schemas import ErrorDetail, SchedulesPublic
from src.queue.errors import atranslate_redis_errors
from src.queue.schedules import Schedule, describe, last_runs

router = APIRouter(
    tags=["schedules"],
    dependencies=[Depends(require_api_key)],
    responses={
        401: {"model": ErrorDetail, "description": "Missing or wrong API key"},
        503: {"model": ErrorDetail, "description": "Redis is unreachable; see Retry-After"},
    },
)


@router.get("/schedules", response_model=SchedulesPublic, summary="Cron schedules")
async def get_schedules(request: Request, client: ClientDep) -> dict[str, Any]:
    """Each schedule (the tasks' own and `AGENTQ_SCHEDULES`): its task, cron expression,
    time zone, queue and payload, its next tick and the last tick a job was enqueued for."""
    schedules: list[Schedule] = request.app.state.schedules
    async with atranslate_redis_errors():
        last = await last_runs(client.redis, client.keys, [s.name for s in schedules])
    return {"schedules": describe(schedules, last, time.time())}
