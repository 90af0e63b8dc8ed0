"""`/webhooks/{source}`: turn any signed JSON delivery into a `webhook_event` job."""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, HTTPException, Path, Request, Response

from src.api.deps import ClientDep, SettingsDep
from src.api.errors import unstorable, validation_error
from src.api.schemas import SOURCE_PATTERN, ErrorDetail, WebhookAccepted
from src.queue import Client
from src.queue.models import iso
from src.queue.signing import SIGNATURE_HEADER, verify

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.post(
    "/{source}",
    summary="Receive a webhook",
    status_code=202,
    response_model=WebhookAccepted,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "Any JSON document, kept as it came",
            "content": {
                "application/json": {"schema": {}, "example": {"action": "opened", "number": 7}}
            },
        }
    },
    responses={
        401: {
            "model": ErrorDetail,
            "description": "Missing or wrong signature (when AGENTQ_WEBHOOK_SECRET is set)",
        },
        413: {"model": ErrorDetail, "description": "Body larger than AGENTQ_MAX_PAYLOAD_BYTES"},
        422: {"model": ErrorDetail, "description": "The body is not JSON"},
        503: {"model": ErrorDetail, "description": "Redis is unreachable; see Retry-After"},
    },
)
async def receive_webhook(
    source: Annotated[str, Path(pattern=SOURCE_PATTERN, examples=["github"])],
    request: Request,
    response: Response,
    client: ClientDep,
    settings: SettingsDep,
    signature: Annotated[
        str | None,
        Header(alias=SIGNATURE_HEADER, description="`sha256=<hex HMAC-SHA256 of the raw body>`"),
    ] = None,
) -> dict[str, Any]:
    """Enqueue a `webhook_event` job {source, body}; with a secret set, check the signature."""
    raw = await request.body()
    if settings.webhook_secret and not verify(raw, settings.webhook_secret, signature):
        raise HTTPException(401, f"missing or invalid {SIGNATURE_HEADER} signature")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise validation_error(("body",), f"body is not JSON: {exc}", None, "json_invalid") from exc
    try:
        # The source's tenant (AGENTQ_WEBHOOK_TENANTS), else the default tenant
        job = await client.enqueue("webhook_event", {"source": source, "body": body},
                                   tenant=request.app.state.webhook_tenants.get(source))
    except orjson.JSONEncodeError as exc:
        raise unstorable(("body",), exc) from exc
    if settings.database_url:  # the archiver writes it to the history's webhook_events
        await _keep_for_history(client, settings.archive_max, job.id, source, request, body)
    response.headers["Location"] = f"/jobs/{job.id}"
    return {"id": job.id, "type": "webhook_event", "status": job.record["status"]}


#: headers kept with a webhook in the history (never a signature, cookie or credential)
_KEPT_HEADERS = ("content-type", "user-agent")
_PRIVATE_HEADERS = ("x-signature-256", "x-hub-signature", "x-hub-signature-256", "authorization",
                   "cookie", "x-api-key")


async def _keep_for_history(client: Client, cap: int, job_id: str, source: str,
                            request: Request, body: Any) -> None:
    headers = {k: v for k, v in request.headers.items()
               if (k in _KEPT_HEADERS or k.startswith("x-")) and k not in _PRIVATE_HEADERS}
    entry = orjson.dumps({"job_id": job_id, "source": source, "received_at": iso(time.time()),
                          "headers": headers, "body": body})
    async with client.redis.pipeline(transaction=True) as pipe:
        pipe.lpush(client.keys.archive_webhooks, entry)
        pipe.ltrim(client.keys.archive_webhooks, 0, cap - 1)
        await pipe.execute()
