"""Dependencies the routes declare: the Redis client, settings, the job, the API key."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from src.api.settings import ApiSettings
from src.queue import Client

# Every dependency here is a coroutine: FastAPI runs a plain `def` dependency in its
# thread pool, a thread hand-off per request that cost more than the rest of a request.


async def get_app_settings(request: Request) -> ApiSettings:
    """The settings the app was built with."""
    return request.app.state.settings


SettingsDep = Annotated[ApiSettings, Depends(get_app_settings)]


async def get_client(request: Request) -> Client:
    """The app's one `Client` (one Redis connection pool), opened by the lifespan."""
    return request.app.state.client


ClientDep = Annotated[Client, Depends(get_client)]


JobId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        description="Job id (a ULID)",
        examples=["01JD6Z5Q3M8X4K2V7B9N0C1D2E"],
    ),
]


async def get_job(job_id: JobId, client: ClientDep) -> dict[str, Any]:
    """The job's record, or 404 when it is unknown or expired."""
    record = await client.get(job_id)
    if record is None:
        raise HTTPException(404, f"job {job_id} not found")
    return record


JobDep = Annotated[dict[str, Any], Depends(get_job)]

_bearer = HTTPBearer(auto_error=False, description="One of AGENTQ_API_KEYS, when that is set")


async def require_api_key(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """With `AGENTQ_API_KEYS` set, demand `Authorization: Bearer <one of them>` (401 otherwise)."""
    if not settings.api_keys:
        return
    given = credentials.credentials.encode() if credentials else b""
    # Compare with every key, without stopping early, so timing tells nothing.
    ok = False
    for key in settings.api_keys:
        ok |= hmac.compare_digest(given, key.encode())
    if not ok:
        raise HTTPException(
            401,
            "missing or invalid API key" if credentials else "missing API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
