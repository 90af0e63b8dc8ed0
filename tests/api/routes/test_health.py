"""`/health`, `/ready` and `/metrics` over HTTP."""

from __future__ import annotations

import subprocess

import httpx

from tests.api.support import wait_for


def test_health(http: httpx.Client) -> None:
    r = http.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_ready_counts_the_workers(http: httpx.Client, worker: subprocess.Popen[bytes]) -> None:
    body = wait_for(lambda: (b := http.get("/ready").json())["workers"] == 1 and b, timeout_s=10)
    assert body == {"status": "ready", "redis": "ok", "workers": 1}


def test_metrics_count_requests_by_route_and_status(http: httpx.Client, queue_name: str) -> None:
    http.post("/jobs", json={"type": "echo", "queue": queue_name})
    http.get("/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E")
    r = http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'agentq_http_requests_total{method="POST",route="/jobs",status="202"}' in text
    assert 'agentq_http_requests_total{method="GET",route="/jobs/{job_id}",status="404"}' in text
    assert (
        'agentq_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/jobs"}'
        in text
    )


def test_metrics_read_queue_gauges_from_redis(http: httpx.Client, queue_name: str) -> None:
    for _ in range(2):
        http.post("/jobs", json={"type": "echo", "queue": queue_name})
    text = http.get("/metrics").text
    assert f'agentq_queue_queued{{queue="{queue_name}"}} 2.0' in text
    assert f'agentq_queue_jobs_total{{outcome="enqueued",queue="{queue_name}"}} 2.0' in text
    assert "agentq_redis_up 1.0" in text
    assert "agentq_workers " in text
