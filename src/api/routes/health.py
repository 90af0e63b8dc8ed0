"""`/health`, `/ready` and `/metrics`: for load balancers, orchestrators and Prometheus."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from src.api.deps import ClientDep, SettingsDep
from src.api.schemas import Health, Ready
from src.api.settings import ApiSettings
from src.queue import Client, RedisUnavailable
from src.queue.errors import atranslate_redis_errors

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Liveness")
async def health() -> dict[str, str]:
    """200 while the process lives; does not touch Redis."""
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: Redis answers",
    response_model=Ready,
    response_model_exclude_unset=True,
    responses={503: {"model": Ready, "description": "Redis does not answer; see Retry-After"}},
)
async def ready(client: ClientDep, settings: SettingsDep) -> Any:
    """200 with the live worker count when Redis answers, 503 otherwise. With a history
    database, `history_backlog` counts the ended jobs not yet archived, and `history`
    says `behind` while that backlog is large (the database is away or slow)."""
    try:
        await client.ping()
        workers = (await client.queues())["workers"]
        backlog = await _history_backlog(client, settings)
    except RedisUnavailable as exc:
        return JSONResponse(
            {"status": "unavailable", "redis": str(exc) or "unreachable", "workers": None},
            503,
            headers={"Retry-After": str(settings.retry_after_s)},
        )
    answer: dict[str, Any] = {"status": "ready", "redis": "ok", "workers": workers}
    if backlog is not None:
        answer["history"] = "behind" if backlog >= HISTORY_BEHIND else "ok"
        answer["history_backlog"] = backlog
    return answer


#: archive backlog from which `/ready` reports the history as `behind`
HISTORY_BEHIND = 1000


async def _history_backlog(client: Client, settings: ApiSettings) -> int | None:
    if not settings.database_url:
        return None
    async with atranslate_redis_errors():
        return int(await client.redis.llen(client.keys.archive))


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
            "description": "Prometheus text format",
        }
    },
)
async def metrics(request: Request, client: ClientDep, settings: SettingsDep) -> Response:
    """HTTP request counts and latencies by route and status, and queue gauges read from Redis."""
    try:
        snapshot: dict[str, Any] | None = await client.queues()
        if snapshot is not None:  # run and wait time histograms, failures by error type
            snapshot["observed"] = await client.observed()
        backlog = await _history_backlog(client, settings)
        if snapshot is not None and backlog is not None:
            snapshot["history_backlog"] = backlog
    except RedisUnavailable:
        snapshot = None
    body = request.app.state.metrics.render(snapshot)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
