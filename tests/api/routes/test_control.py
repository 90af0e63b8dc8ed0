"""`POST /jobs/{id}/signals/{name}`, `GET /jobs/{id}/steps`, `POST /jobs/{id}/replay`
over HTTP, with a worker that runs the sample tasks (tests/worker/sample_tasks.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest


@pytest.fixture(scope="module")
def api_env(api_env: dict[str, str]) -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[3])  # the API and worker run elsewhere
    return {**api_env, "AGENTQ_TASK_MODULES": "tests.worker.sample_tasks", "PYTHONPATH": root}


def _until(http: httpx.Client, job_id: str, *statuses: str, timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = http.get(f"/jobs/{job_id}").json()
        if rec["status"] in statuses:
            return rec
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} not {statuses} within {timeout}s: {rec}")


def _submit(http: httpx.Client, type: str, payload: dict[str, Any] | None = None) -> str:
    r = http.post("/jobs", json={"type": type, "payload": payload or {}})
    assert r.status_code == 202, r.text
    return r.json()["id"]


def test_a_signal_resumes_a_waiting_job(http: httpx.Client, worker: Any) -> None:
    job_id = _submit(http, "review_flow")
    rec = _until(http, job_id, "waiting")
    assert rec["waiting_for"]["name"] == "approve"
    assert http.get("/queues").json()["waiting"] >= 1
    r = http.post(f"/jobs/{job_id}/signals/approve", json={"outline": ["A", "B"]})
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued" and "waiting_for" not in r.json()
    done = _until(http, job_id, "succeeded", "failed")
    assert done["result"]["decision"] == {"outline": ["A", "B"]}
    # the job has ended: a signal is a conflict now
    r = http.post(f"/jobs/{job_id}/signals/approve", json={})
    assert r.status_code == 409 and "succeeded" in r.json()["detail"]


def test_signal_errors(http: httpx.Client, queue_name: str) -> None:
    assert http.post("/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E/signals/approve").status_code == 404
    job = http.post("/jobs", json={"type": "echo", "queue": queue_name}).json()
    r = http.post(f"/jobs/{job['id']}/signals/bad name!", json={})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "name"]
    r = http.post(f"/jobs/{job['id']}/signals/approve", content=b"{not json",
                  headers={"content-type": "application/json"})
    assert r.status_code == 422
    # a queued job keeps the signal for its wait; no body is null
    r = http.post(f"/jobs/{job['id']}/signals/approve")
    assert r.status_code == 202 and r.json()["status"] == "queued"
    assert http.post(f"/jobs/{job['id']}/cancel").json()["status"] == "cancelled"


def test_cancel_a_waiting_job(http: httpx.Client, worker: Any) -> None:
    job_id = _submit(http, "review_flow")
    _until(http, job_id, "waiting")
    r = http.post(f"/jobs/{job_id}/cancel")
    assert r.status_code == 202 and r.json()["status"] == "cancelled"


def test_steps_and_replay(http: httpx.Client, worker: Any) -> None:
    job_id = _submit(http, "three_steps", {"tone": "dry"})
    _until(http, job_id, "succeeded")
    steps = http.get(f"/jobs/{job_id}/steps").json()["steps"]
    assert [s["name"] for s in steps] == ["s1", "s2", "s3"] and steps[0]["result"] == "s1"

    r = http.post(f"/jobs/{job_id}/replay", json={"from_step": "s3", "payload": {"tone": "wry"}})
    assert r.status_code == 202, r.text
    replay = r.json()
    assert replay["replay_of"] == job_id and replay["status"] == "queued"
    done = _until(http, replay["id"], "succeeded", "failed")
    assert done["result"] == {"steps": ["s1", "s2", "s3"], "tone": "wry"}
    assert done["replay_of"] == job_id
    assert http.get(f"/jobs/{job_id}").json()["result"]["tone"] == "dry"

    r = http.post(f"/jobs/{job_id}/replay", json={"from_step": "s9"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "from_step"]
    r = http.post(f"/jobs/{job_id}/replay", json={})  # no step: every step runs again
    assert r.status_code == 202 and r.json()["replay_of"] == job_id
    again = _until(http, r.json()["id"], "succeeded", "failed")
    assert again["result"] == {"steps": ["s1", "s2", "s3"], "tone": "dry"}
    r = http.post("/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E/replay", json={"from_step": "s1"})
    assert r.status_code == 404
    assert http.get("/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E/steps").status_code == 404
