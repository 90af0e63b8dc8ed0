"""AGENTQ_API_KEYS: every `/jobs*` call needs `Authorization: Bearer <key>`."""

from __future__ import annotations

import httpx
import pytest

KEYS = ("first-key-123", "second-key-456")


@pytest.fixture(scope="module")
def api_env(api_env: dict[str, str]) -> dict[str, str]:
    return {**api_env, "AGENTQ_API_KEYS": ",".join(KEYS)}


JOB_CALLS = [
    ("POST", "/jobs", {"type": "echo", "queue": "nobody"}),
    ("GET", "/jobs", None),
    ("GET", "/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E", None),
    ("GET", "/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E/events", None),
    ("POST", "/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E/cancel", None),
    ("POST", "/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E/retry", None),
    ("POST", "/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E/signals/approve", {}),
    ("GET", "/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E/steps", None),
    ("POST", "/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E/replay", {"from_step": "a"}),
    ("GET", "/workers", None),  # it lists the ids of running jobs
    ("GET", "/usage", None),  # a tenant's LLM use
    ("GET", "/schedules", None),
]


@pytest.mark.parametrize(("method", "path", "body"), JOB_CALLS)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-key", "Bearer first-key-12", "Basic Zmlyc3Qta2V5LTEyMw==", KEYS[0]],
    ids=["none", "wrong", "prefix-of-a-key", "basic", "bare-key"],
)
def test_jobs_calls_without_a_valid_key_are_401(
    http: httpx.Client, method: str, path: str, body: dict | None, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    r = http.request(method, path, json=body, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "API key" in r.json()["detail"]


@pytest.mark.parametrize("key", KEYS)
def test_every_configured_key_works(http: httpx.Client, key: str) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    r = http.post("/jobs", json={"type": "echo", "queue": "nobody"}, headers=auth)
    assert r.status_code == 202
    assert http.get(f"/jobs/{r.json()['id']}", headers=auth).status_code == 200
    assert http.get("/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E", headers=auth).status_code == 404


def test_health_ready_and_queue_counts_need_no_key(http: httpx.Client) -> None:
    assert http.get("/health").status_code == 200
    assert http.get("/ready").status_code == 200
    assert http.get("/queues").status_code == 200


def test_workers_with_a_key(http: httpx.Client) -> None:
    r = http.get("/workers", headers={"Authorization": f"Bearer {KEYS[1]}"})
    assert r.status_code == 200 and r.json() == {"workers": []}
