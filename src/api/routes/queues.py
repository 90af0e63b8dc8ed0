"""`/queues` and `/workers`: what is waiting, running and done, and who works on it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from src.api.deps import ClientDep, require_api_key
from src.api.schemas import ErrorDetail, QueuesPublic, WorkersPublic

router = APIRouter(
    tags=["queues"],
    responses={503: {"model": ErrorDetail, "description": "Redis is unreachable; see Retry-After"}},
)


@router.get("/queues", response_model=QueuesPublic, summary="Queue counts")
async def get_queues(client: ClientDep) -> dict[str, Any]:
    """Counts per queue (waiting, running, totals) and overall (scheduled, dead, workers)."""
    return await client.queues()


@router.get(
    "/workers",
    response_model=WorkersPublic,
    summary="Live workers",
    # It names the jobs that run now: with AGENTQ_API_KEYS set it needs a key, as /jobs does.
    dependencies=[Depends(require_api_key)],
    responses={401: {"model": ErrorDetail, "description": "Missing or wrong API key"}},
)
async def get_workers(client: ClientDep) -> dict[str, Any]:
    """Live workers: id, host, pid, queues, concurrency, current jobs, last heartbeat."""
    return {"workers": await client.workers()}
