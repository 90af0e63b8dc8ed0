"""The event stream in both designs, in process (the app on an ASGI transport, the real
Valkey): through the event hub (the default) and with one XREAD per stream
(`create_app(events_fanout=False)`, kept for the followers benchmark)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from src.api.app import create_app
from src.api.settings import ApiSettings
from src.queue import Client


@pytest.fixture(params=[True, False], ids=["hub", "per-stream"])
async def app(request: pytest.FixtureRequest, redis_url: str,
              namespace: str) -> AsyncIterator[FastAPI]:
    settings = ApiSettings(REDIS_URL=redis_url, AGENTQ_NAMESPACE=namespace,
                           AGENTQ_WEB_DIR="/nonexistent")
    app = create_app(settings, events_fanout=request.param)
    async with app.router.lifespan_context(app):
        yield app


def parse(body: str) -> list[tuple[str | None, dict[str, Any]]]:
    events = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            events.append((fields.get("id"), json.loads(fields["data"])))
    return events


async def test_a_finished_job_streams_to_its_end_and_resumes(app: FastAPI,
                                                             client: Client) -> None:
    job = await client.enqueue("echo", {}, queue="nobody-listens")
    await client.cancel(job.id)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        r = await http.get(f"/jobs/{job.id}/events", timeout=10)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache"
        events = parse(r.text)
        assert [(e["type"], e["status"]) for _, e in events] == [("status", "cancelled")]
        assert all(event_id for event_id, _ in events)

        again = await http.get(f"/jobs/{job.id}/events", timeout=10,
                               headers={"Last-Event-ID": events[-1][0]})
        assert [e["status"] for _, e in parse(again.text)] == ["cancelled"]  # the final state

        missing = await http.get("/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E/events")
        assert missing.status_code == 404
        assert "agentq_sse_followers 0.0" in (await http.get("/metrics")).text


async def test_the_hub_is_the_clients_and_ends_with_the_app(redis_url: str,
                                                           namespace: str) -> None:
    settings = ApiSettings(REDIS_URL=redis_url, AGENTQ_NAMESPACE=namespace)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        hub = app.state.hub
        assert hub is app.state.client.hub
    assert hub.closed
    per_stream = create_app(settings, events_fanout=False)
    async with per_stream.router.lifespan_context(per_stream):
        assert per_stream.state.hub is None


async def test_a_quiet_stream_sends_a_comment_now_and_then(
    app: FastAPI, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from src.api import streams

    monkeypatch.setattr(streams, "IDLE_S", 0.1)
    monkeypatch.setattr(streams, "KEEPALIVE_S", 0.25)
    monkeypatch.setattr(streams, "EVENTS_BLOCK_MS", 100)
    job = await client.enqueue("echo", {}, queue="nobody-listens")

    async def cancel_later() -> None:
        await asyncio.sleep(1.2)
        await client.cancel(job.id)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        _, r = await asyncio.gather(cancel_later(), http.get(f"/jobs/{job.id}/events",
                                                               timeout=10))
    assert r.text.count(": ping\n\n") >= 2, r.text
    assert [e["status"] for _, e in parse(r.text)] == ["cancelled"]
