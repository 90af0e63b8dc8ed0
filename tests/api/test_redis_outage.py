"""Redis stopped and started again under a running API and worker: 503 with Retry-After
meanwhile (quickly, never a 500 or a hang), and everything works again afterwards."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.support import Server, base_env, start_worker, stop_process, wait_for
from tests.support import ValkeyServer


@pytest.fixture(scope="module")
def own_valkey() -> Iterator[ValkeyServer]:
    server = ValkeyServer(appendonly=True).start()
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def api_env(own_valkey: ValkeyServer) -> dict[str, str]:
    return base_env(own_valkey.url, f"t{uuid.uuid4().hex[:10]}")


@pytest.fixture(scope="module")
def stack(module_dir: Path, api_env: dict[str, str], api: Server) -> Iterator[Server]:
    worker = start_worker(module_dir / "worker", api_env, "--concurrency", "2")
    yield api
    stop_process(worker, grace_s=10)


def test_outage_gives_503_with_retry_after_then_recovers(
    stack: Server, own_valkey: ValkeyServer
) -> None:
    http = stack.http
    before = http.post(
        "/jobs", params={"wait": 10}, json={"type": "add", "payload": {"x": 1, "y": 2}}
    )
    assert before.status_code == 200 and before.json()["status"] == "succeeded"
    job_id = before.json()["id"]

    own_valkey.stop()
    try:
        calls = [
            ("POST", "/jobs", {"type": "add", "payload": {"x": 1, "y": 1}}),
            ("GET", f"/jobs/{job_id}", None),
            ("GET", "/jobs", None),
            ("POST", f"/jobs/{job_id}/cancel", None),
            ("POST", f"/jobs/{job_id}/retry", None),
            ("GET", f"/jobs/{job_id}/events", None),
            ("GET", "/queues", None),
            ("GET", "/workers", None),
            ("POST", "/webhooks/github", {"a": 1}),
        ]
        for method, path, body in calls:
            start = time.monotonic()
            r = http.request(method, path, json=body)
            assert r.status_code == 503, (method, path, r.status_code, r.text)
            assert int(r.headers["retry-after"]) > 0
            assert "unavailable" in r.json()["detail"]
            assert time.monotonic() - start < 5, f"{method} {path} hung"

        ready = http.get("/ready")
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
        assert ready.headers["retry-after"]
        assert http.get("/health").status_code == 200
        metrics = http.get("/metrics")
        assert metrics.status_code == 200 and "agentq_redis_up 0.0" in metrics.text
    finally:
        own_valkey.start()

    # The same pool reconnects: new jobs are accepted and the worker runs them again.
    def accepted() -> httpx.Response | None:
        r = http.post("/jobs", json={"type": "add", "payload": {"x": 20, "y": 22}})
        return r if r.status_code == 202 else None

    new_job = wait_for(accepted, timeout_s=15, interval_s=0.2).json()
    done = wait_for(
        lambda: (rec := http.get(f"/jobs/{new_job['id']}").json())["status"] == "succeeded" and rec,
        timeout_s=30,
        interval_s=0.2,
    )
    assert done["result"] == 42
    assert http.get(f"/jobs/{job_id}").json()["status"] == "succeeded"  # kept (append-only file)
    assert http.get("/ready").status_code == 200


def test_event_stream_survives_an_outage(stack: Server, own_valkey: ValkeyServer) -> None:
    """An open stream waits through a Redis restart, then delivers the next event and ends."""
    http = stack.http
    job = http.post("/jobs", json={"type": "echo", "queue": "nobody-listens"}).json()
    events: list[dict] = []
    opened, done = threading.Event(), threading.Event()

    def follow() -> None:
        try:
            with httpx.stream("GET", f"{stack.url}/jobs/{job['id']}/events", timeout=30) as r:
                opened.set()
                for line in r.iter_lines():
                    if line.startswith("data:"):
                        events.append(json.loads(line[5:]))
            done.set()
        except httpx.HTTPError:
            pass  # the API stopped while the stream was open

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    assert opened.wait(10)
    own_valkey.stop()
    time.sleep(1.5)
    own_valkey.start()
    cancel = wait_for(
        lambda: (r := http.post(f"/jobs/{job['id']}/cancel")).status_code == 202 and r,
        timeout_s=15,
        interval_s=0.2,
    )
    assert cancel.json()["status"] == "cancelled"
    assert done.wait(15), f"the stream did not end; got {events}"
    reader.join(5)
    assert [(e["type"], e["status"]) for e in events] == [("status", "cancelled")]
