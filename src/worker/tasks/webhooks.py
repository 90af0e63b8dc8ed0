"""webhook_event: record a delivery from `POST /webhooks/{source}` and summarise it.

No model is involved: a webhook can arrive thousands of times an hour, so the summary
is a cheap, deterministic reading of the well-known fields (event, action, status...).
The job record (result included) is the record of the delivery.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, Field

from src.queue.registry import task

from ..context import JobContext

SOURCE_PATTERN = r"^[A-Za-z0-9_.\-]{1,64}$"
#: fields that name what happened, in the order they are looked for
EVENT_FIELDS = ("event", "event_type", "type", "kind", "topic", "action", "status", "state")
#: fields that name what it happened to
SUBJECT_PATHS = (("repository", "full_name"), ("repository", "name"), ("project", "name"),
                 ("data", "object", "object"), ("data", "object", "id"), ("object",),
                 ("id",), ("name",), ("subject",), ("title",))


class WebhookInput(BaseModel):
    source: str = Field(pattern=SOURCE_PATTERN, examples=["github"])
    body: Any = None


def _get(body: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(body, dict) or part not in body:
            return None
        body = body[part]
    return body


def _short(value: Any) -> str | None:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text[:80] if text else None


def summarize(source: str, body: Any) -> dict[str, Any]:
    size = len(orjson.dumps(body))
    if isinstance(body, dict):
        keys = sorted(str(k) for k in body)
        facts = [f"{f}={v}" for f in EVENT_FIELDS if (v := _short(body.get(f)))]
        subject = next((s for p in SUBJECT_PATHS if (s := _short(_get(body, p)))), None)
        what = ", ".join(facts[:3]) or "an event"
        on = f" on {subject}" if subject and not any(subject in f for f in facts) else ""
        shown = ", ".join(keys[:8]) + (", ..." if len(keys) > 8 else "")
        summary = f"{source}: {what}{on} ({len(keys)} fields: {shown}; {size} bytes)"
    elif isinstance(body, list):
        keys = []
        summary = f"{source}: a batch of {len(body)} items ({size} bytes)"
    else:
        keys = []
        kind = f"a {type(body).__name__}" if body is not None else "an empty"
        summary = f"{source}: {kind} body ({size} bytes)"
    return {"source": source, "keys": keys, "bytes": size, "summary": summary}


@task("webhook_event", input=WebhookInput, timeout_s=30, max_attempts=5)
async def webhook_event(ctx: JobContext, data: WebhookInput) -> dict[str, Any]:
    result = summarize(data.source, data.body)
    ctx.log.info("webhook %s", result["summary"])
    await ctx.progress(100, result["summary"][:200])
    return result
