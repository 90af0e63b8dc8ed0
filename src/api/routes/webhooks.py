"""`/webhooks/{source}`: turn any signed JSON delivery into a `webhook_event` job."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, HTTPException, Path, Request, Response

from src.api.deps import ClientDep, SettingsDep
from src.api.errors import unstorable, validation_error
from src.api.schemas import SOURCE_PATTERN, ErrorDetail, WebhookAccepted
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
        job = await client.enqueue("webhook_event", {"source": source, "body": body})
    except orjson.JSONEncodeError as exc:
        raise unstorable(("body",), exc) from exc
    response.headers["Location"] = f"/jobs/{job.id}"
    return {"id": job.id, "type": "webhook_event", "status": job.record["status"]}
