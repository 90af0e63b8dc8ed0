"""`/health`, `/ready` and `/metrics`: for load balancers, orchestrators and Prometheus."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from src.api.deps import ClientDep, SettingsDep
from src.api.schemas import Health, Ready
from src.queue import RedisUnavailable

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Liveness")
async def health() -> dict[str, str]:
    """200 while the process lives; does not touch Redis."""
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness: Redis answers",
    response_model=Ready,
    responses={503: {"model": Ready, "description": "Redis does not answer; see Retry-After"}},
)
async def ready(client: ClientDep, settings: SettingsDep) -> Any:
    """200 with the live worker count when Redis answers, 503 otherwise."""
    try:
        await client.ping()
        workers = (await client.queues())["workers"]
    except RedisUnavailable as exc:
        return JSONResponse(
            {"status": "unavailable", "redis": str(exc) or "unreachable", "workers": None},
            503,
            headers={"Retry-After": str(settings.retry_after_s)},
        )
    return {"status": "ready", "redis": "ok", "workers": workers}


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
async def metrics(request: Request, client: ClientDep) -> Response:
    """HTTP request counts and latencies by route and status, and queue gauges read from Redis."""
    try:
        snapshot: dict[str, Any] | None = await client.queues()
        if snapshot is not None:  # run and wait time histograms, failures by error type
            snapshot["observed"] = await client.observed()
    except RedisUnavailable:
        snapshot = None
    body = request.app.state.metrics.render(snapshot)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
