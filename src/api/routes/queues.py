"""`/queues` and `/workers`: what is waiting, running and done, and who works on it."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query

from src.api.deps import CallerDep, ClientDep, caller_if_any, require_api_key
from src.api.schemas import ErrorDetail, QueuesPublic, UsagePerTenant, WorkersPublic
from src.api.tenants import Caller
from src.queue import Client
from src.queue.errors import atranslate_redis_errors
from src.queue.models import tenant_of

router = APIRouter(
    tags=["queues"],
    responses={503: {"model": ErrorDetail, "description": "Redis is unreachable; see Retry-After"}},
)

#: How many tenants `GET /queues` counts for an admin (the busiest)
TOP_TENANTS = 10


@router.get("/queues", response_model=QueuesPublic, summary="Queue counts")
async def get_queues(
    client: ClientDep, caller: Annotated[Caller | None, Depends(caller_if_any)],
) -> dict[str, Any]:
    """Counts per queue (waiting, running, totals) and overall (scheduled, dead, workers).

    `tenants`: queued and running jobs per tenant, for a caller with a key: its own
    tenant's, or the busiest ten for an admin key (or when no keys are configured);
    `keys` the same per concurrency key. Without a key the counts per queue need none,
    and `tenants` and `keys` are empty.
    """
    answer = await client.queues(top_keys=TOP_TENANTS)
    if caller is None:
        answer["tenants"], answer["keys"] = [], []
    else:
        answer["tenants"] = await client.tenants(top=TOP_TENANTS, only=caller.scope)
        if caller.scope is not None:
            mine = (caller.scope, f"{caller.scope}/")
            answer["keys"] = [row for row in answer["keys"]
                              if row["key"] == mine[0] or row["key"].startswith(mine[1])]
    return answer


@router.get(
    "/usage",
    response_model=UsagePerTenant,
    summary="LLM tokens per tenant and model, recently",
    dependencies=[Depends(require_api_key)],
    responses={401: {"model": ErrorDetail, "description": "Missing or wrong API key"}},
)
async def get_usage(
    client: ClientDep, caller: CallerDep,
    minutes: Annotated[int, Query(ge=1, le=120, description="How far back (kept: 2 hours)")] = 60,
) -> dict[str, Any]:
    """Prompt and completion tokens, calls and cost per tenant and model over the last
    `minutes`, counted in five-minute buckets (so up to five minutes more). A key sees its
    own tenant's rows; an admin key (or no keys configured) every tenant's."""
    return {"minutes": minutes, "usage": await client.recent_usage(minutes, caller.scope)}


@router.get(
    "/workers",
    response_model=WorkersPublic,
    summary="Live workers",
    # It names the jobs that run now: with AGENTQ_API_KEYS set it needs a key, as /jobs does.
    dependencies=[Depends(require_api_key)],
    responses={401: {"model": ErrorDetail, "description": "Missing or wrong API key"}},
)
async def get_workers(client: ClientDep, caller: CallerDep) -> dict[str, Any]:
    """Live workers: id, host, pid, queues, concurrency, current jobs, last heartbeat.
    A key sees only its own tenant's jobs among the current jobs."""
    workers = await client.workers()
    if caller.scope is not None:
        visible = await _jobs_of(client, caller.scope,
                                 [j for w in workers for j in w.get("jobs") or []])
        for w in workers:
            w["jobs"] = [j for j in w.get("jobs") or [] if j in visible]
    return {"workers": workers}


async def _jobs_of(client: Client, tenant: str, ids: list[str]) -> set[str]:
    """Those of `ids` whose record belongs to `tenant`."""
    if not ids:
        return set()
    async with atranslate_redis_errors():
        raws = await client.redis.mget([client.keys.job(i) for i in ids])
    return {i for i, raw in zip(ids, raws, strict=True)
            if raw is not None and tenant_of(orjson.loads(raw)) == tenant}
