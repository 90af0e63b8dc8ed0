"""`/history`: what the history database can say about many jobs (the Dashboard's charts)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from src.api.deps import CallerDep, HistoryDep, read_history, require_api_key
from src.api.schemas import ErrorDetail

router = APIRouter(
    prefix="/history", tags=["history"], dependencies=[Depends(require_api_key)],
    responses={
        401: {"model": ErrorDetail,
              "description": "Missing or wrong API key (when AGENTQ_API_KEYS is set)"},
        503: {"model": ErrorDetail, "description": "The history database is unavailable"},
    },
)


class HourCounts(BaseModel):
    """Jobs that ended in one hour, by status (absent statuses: none)."""

    model_config = {"extra": "allow"}

    hour: str = Field(description="The hour's start, ISO 8601 UTC",
                      examples=["2026-11-30T10:00:00Z"])


class RunTimes(BaseModel):
    type: str
    count: int
    p50_s: float
    p95_s: float


class HistoryStats(BaseModel):
    """Without a history database `enabled` is false and the lists are empty."""

    enabled: bool
    since: str | None = None
    per_hour: list[HourCounts] = []
    run_time: list[RunTimes] = []


@router.get("/stats", response_model=HistoryStats, summary="Jobs per hour and run times")
async def history_stats(
    history: HistoryDep, caller: CallerDep,
    hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24,
) -> dict[str, Any]:
    """Jobs that ended per hour by status, and run time p50/p95 per task type (succeeded
    jobs), over the last `hours`, from the history database: of the key's tenant (an
    admin key: of every tenant)."""
    if history is None:
        return {"enabled": False}
    return {"enabled": True, **await read_history(history.stats, hours, caller.scope)}
