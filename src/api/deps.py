"""Dependencies the routes declare: the Redis client, settings, the caller (its API key
and tenant), and the job, checked for the caller's tenant."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError

from src.api.settings import ApiSettings
from src.api.tenants import OPEN, Caller, KeyRing
from src.history import History
from src.queue import Client, JobNotFound

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


_bearer = HTTPBearer(auto_error=False,
                     description="One of AGENTQ_API_KEYS or AGENTQ_ADMIN_KEYS, when set")
CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def optional_caller(request: Request, credentials: CredentialsDep) -> Caller | None:
    """The caller of a valid key; `OPEN` (everything visible) without configured keys;
    None when keys are configured and the request has none that matches."""
    ring: KeyRing = request.app.state.key_ring
    if not ring:
        return OPEN
    # Compared with every key, without stopping early, so timing tells nothing.
    return ring.resolve(credentials.credentials.encode() if credentials else b"")


async def caller_if_any(request: Request) -> Caller | None:
    """`optional_caller` for a route where a key is optional (`GET /queues`): read from the
    header itself, so the route declares no security scheme (a client without a key is
    answered, not refused)."""
    ring: KeyRing = request.app.state.key_ring
    if not ring:
        return OPEN
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return ring.resolve(token.strip().encode() if scheme.lower() == "bearer" else b"")


async def require_api_key(
    caller: Annotated[Caller | None, Depends(optional_caller)], credentials: CredentialsDep,
) -> Caller:
    """With API keys set, demand `Authorization: Bearer <one of them>` (401 otherwise);
    the caller (its tenant, and whether it is an admin)."""
    if caller is None:
        raise HTTPException(
            401,
            "missing or invalid API key" if credentials else "missing API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return caller


CallerDep = Annotated[Caller, Depends(require_api_key)]


def job_not_found(job_id: str) -> HTTPException:
    """The 404 of an unknown id, and of another tenant's job alike (nothing leaks)."""
    return HTTPException(404, str(JobNotFound(job_id)))


def visible_or_404(caller: Caller, job_id: str, record: dict[str, Any] | None) -> dict[str, Any]:
    """`record` when the caller may see it; the 404 of an unknown id otherwise."""
    if record is None or not caller.sees(record):
        raise job_not_found(job_id)
    return record


async def job_for_tenant(job_id: JobId, caller: CallerDep, client: ClientDep,
                         history: HistoryDep) -> dict[str, Any]:
    """The tenant check of every per-job route: the job's record, from Redis or else from
    the history, when the caller's tenant owns it (or the caller is an admin); 404, the
    same as for an unknown id, otherwise."""
    record = await client.get(job_id)
    if record is None and history is not None:
        record = await read_history(history.get, job_id)
    return visible_or_404(caller, job_id, record)


#: The job of `{job_id}`, checked for the caller's tenant (`job_for_tenant`).
JobDep = Annotated[dict[str, Any], Depends(job_for_tenant)]
#: The name of this dependency before tenants (it checks the tenant now).
get_job = job_for_tenant


async def owned_job_id(job: JobDep) -> str:
    """`{job_id}` once `job_for_tenant` has checked it: for routes that act on a job."""
    return str(job["id"])


#: A `{job_id}` the caller's tenant owns: declare it instead of `JobId` on a per-job route.
OwnedJobId = Annotated[str, Depends(owned_job_id)]
