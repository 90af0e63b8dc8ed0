"""`POST /jobs` and `GET /jobs/{id}` answer the common request on a short way
(src/api/fastpath.py): every answer must be the one FastAPI's own handling gives, byte for
byte (ids and times aside), whether the short way answers or hands the request over."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from src.api.app import create_app
from src.api.settings import ApiSettings

KEY = "acme:fast-key"
AUTH = {"Authorization": "Bearer fast-key"}
JSON = {"Content-Type": "application/json"}


def _body(**fields: Any) -> str:
    return json.dumps({"type": "add", "payload": {"x": 2, "y": 3}, **fields})


#: (method, path, headers, body); `{id}` is the first job created
REQUESTS: list[tuple[str, str, dict[str, str], str | None]] = [
    ("POST", "/jobs", {**JSON, **AUTH}, _body()),
    ("POST", "/jobs", {**JSON, **AUTH}, _body(queue="q.1", max_attempts="3", timeout_s=9.5,
                                              max_tokens=1000, concurrency_key="k")),
    ("POST", "/jobs", {**JSON, **AUTH}, _body(delay_s=30)),
    ("POST", "/jobs", {**JSON, **AUTH}, _body(callback_url="https://example.com/hook")),
    ("POST", "/jobs", {**JSON, **AUTH}, json.dumps({"type": "echo", "payload": {
        "text": "ü\u2028\x00", "f": [0.1, 1e16, 1e-7, -0.0, 2**63 - 1], "n": None}})),
    ("POST", "/jobs", {**JSON, **AUTH}, _body(idempotency_key="once")),
    ("POST", "/jobs", {**JSON, **AUTH}, _body(idempotency_key="once")),  # 200, the first job
    ("POST", "/jobs", {"Content-Type": "application/json; charset=utf-8", **AUTH}, _body()),
    ("POST", "/jobs/", {**JSON, **AUTH}, _body()),
    ("POST", "/jobs?wait=0", {**JSON, **AUTH}, _body()),
    ("POST", "/jobs?wait=-1", {**JSON, **AUTH}, _body()),
    # refused: each must keep FastAPI's answer
    ("POST", "/jobs", {**JSON, **AUTH}, _body(type="no-such-task")),
    ("POST", "/jobs", {**JSON, **AUTH}, _body(payload={"x": "two", "y": 3})),
    ("POST", "/jobs", {**JSON, **AUTH}, _body(extra=1)),
    ("POST", "/jobs", {**JSON, **AUTH}, _body(callback_url="ftp://example.com/")),
    ("POST", "/jobs", {**JSON, **AUTH}, '{"type": "echo", "payload": {"a": 1e999}}'),
    ("POST", "/jobs", {**JSON, **AUTH}, '{"type": "echo", "payload": {"a": NaN}}'),
    ("POST", "/jobs", {**JSON, **AUTH}, '{"type": "echo", "payload": {"a": 1' + "0" * 30 + "}}"),
    ("POST", "/jobs", {**JSON, **AUTH}, '{"type": "echo", "payload": {"a": "\\ud800"}}'),
    ("POST", "/jobs", {**JSON, **AUTH},
     '{"type": "echo", "payload": {"a": ' + "[" * 1000 + "]" * 1000 + "}}"),
    ("POST", "/jobs", {**JSON, **AUTH}, '{"type": '),
    ("POST", "/jobs", {**JSON, **AUTH}, ""),
    ("POST", "/jobs", {**JSON, **AUTH}, "[]"),
    ("POST", "/jobs", {"Content-Type": "text/plain", **AUTH}, _body()),
    ("POST", "/jobs", JSON, _body()),
    ("POST", "/jobs", {**JSON, "Authorization": "Bearer wrong"}, _body()),
    ("POST", "/jobs", {**JSON, "Authorization": "Basic fast-key"}, _body()),
    ("GET", "/jobs/{id}", AUTH, None),
    ("GET", "/jobs/{id}?unused=1", AUTH, None),
    ("GET", "/jobs/{id}", {}, None),
    ("GET", "/jobs/{id}", {"Authorization": "Bearer other-key"}, None),  # another tenant's
    ("GET", "/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E", AUTH, None),
    ("GET", "/jobs/" + "a" * 129, AUTH, None),
]

_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _app(redis_url: str, keys: str) -> Any:
    """An app of its own namespace (idempotency keys start afresh)."""
    return create_app(ApiSettings(REDIS_URL=redis_url, AGENTQ_NAMESPACE=f"t{uuid.uuid4().hex[:10]}",
                                  AGENTQ_API_KEYS=keys))


@asynccontextmanager
async def _client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app in this process, its lifespan run."""
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://agentq.test", timeout=30) as http:
            yield http


async def _answers(app: Any, fast: bool) -> list[tuple[Any, ...]]:
    """Each request's answer: the status, the headers and the body (ids and times as
    placeholders). Without `fast`, a dependency override sends every request through
    FastAPI's own handling."""
    if not fast:
        app.dependency_overrides[object] = object  # any override: FastAPI does it all
    first = None
    out = []
    async with _client(app) as client:
        for method, path, headers, body in REQUESTS:
            r = await client.request(method, path.replace("{id}", first or "none"), headers=headers,
                               content=body)
            if first is None and r.status_code == 202:
                first = r.json()["id"]
            text = _TIME.sub("<time>", _ID.sub("<id>", r.text))
            text = re.sub(r'"traceparent":"[^"]*"', "", text)
            head = [(k, _ID.sub("<id>", v)) for k, v in r.headers.items()]
            out.append((method, path, r.status_code, head, text))
    app.dependency_overrides.clear()
    return out


async def test_the_short_way_answers_as_fastapi_does(redis_url: str) -> None:
    keys = f"{KEY},other:other-key"
    slow = await _answers(_app(redis_url, keys), fast=False)
    fast = await _answers(_app(redis_url, keys), fast=True)
    assert [a[2] for a in fast].count(202) >= 8  # the short way had requests to answer
    for expected, got in zip(slow, fast, strict=True):
        assert got == expected


@pytest.mark.parametrize("keys", ["", "plain-key"])
async def test_the_short_way_answers_without_tenants(redis_url: str, keys: str) -> None:
    app = _app(redis_url, keys)
    auth = {"Authorization": "Bearer plain-key"}
    async with _client(app) as client:
        r = await client.post("/jobs", content=_body(), headers={**JSON, **auth})
        assert r.status_code == 202, r.text
        assert r.headers["location"] == f"/jobs/{r.json()['id']}"
        assert "tenant" not in r.json()
        got = await client.get(r.headers["location"], headers=auth)
        assert got.status_code == 200
        assert got.json() == r.json()
