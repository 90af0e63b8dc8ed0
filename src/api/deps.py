"""Dependencies the routes declare: the Redis client, settings, the job, the API key."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError

from src.api.settings import ApiSettings
from src.history import History
from src.queue import Client

T = TypeVar("T")
log = logging.getLogger("agentq.api")

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


async def get_history(request: Request) -> History | None:
    """The history database (`AGENTQ_DATABASE_URL`), or None when there is none."""
    history: History | None = request.app.state.history
    return history


HistoryDep = Annotated[History | None, Depends(get_history)]


async def open_history(url: str) -> History | None:
    """The history database of `url`, its schema brought up to date (under a lock); None
    without a URL. A database that is away at start is tried again by each read and by
    the archiver, so the API starts anyway."""
    if not url:
        return None
    history = History(url)
    try:
        await asyncio.to_thread(history.upgrade)
    except Exception as exc:
        log.warning("history database unavailable at start (%s); reads fall back to Redis",
                    type(exc).__name__)
    return history


async def get_job(job_id: JobId, client: ClientDep, history: HistoryDep) -> dict[str, Any]:
    """The job's record, from Redis or else from the history; 404 when neither has it."""
    record = await client.get(job_id)
    if record is None and history is not None:
        record = await read_history(history.get, job_id)
    if record is None:
        raise HTTPException(404, f"job {job_id} not found")
    return record


async def read_history(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A history read in a thread; 503 with Retry-After while the database is away."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except SQLAlchemyError as exc:
        log.warning("history database unavailable: %s", type(exc).__name__)
        raise HistoryUnavailable() from exc


class HistoryUnavailable(HTTPException):
    def __init__(self) -> None:
        super().__init__(503, "the history database is unavailable; try again shortly",
                         headers={"Retry-After": "5"})


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
