"""With AGENTQ_API_KEYS set, nobody without a key learns job ids or job data; and no
request body, however built, makes the API answer 500."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.api.support import Server, start_worker, stop_process

KEY = "exposure-key-7f3a"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def keyed(start_api_with) -> Server:
    return start_api_with(AGENTQ_API_KEYS=KEY, AGENTQ_MAX_PAYLOAD_BYTES="200000")


@pytest.mark.parametrize("path", ["/jobs", "/jobs?status=running", "/jobs?limit=500",
                                  "/jobs?before=01JD6Z5Q3M8X4K2V7B9N0C1D2E", "/jobs?type=sleep"])
def test_listing_jobs_without_a_key_is_401(keyed: Server, path: str) -> None:
    keyed.http.post("/jobs", json={"type": "echo", "queue": "nobody"}, headers=AUTH)
    r = keyed.http.get(path)
    assert r.status_code == 401
    assert "jobs" not in r.json()


class Exposed(AssertionError):
    """A job id shown to a caller without a key."""


def test_running_job_ids_are_not_listed_without_a_key(keyed: Server, tmp_path) -> None:
    worker = start_worker(tmp_path, keyed.env, "--concurrency", "2")
    try:
        job = keyed.http.post("/jobs", json={"type": "sleep", "payload": {"seconds": 5}}, headers=AUTH).json()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if job["id"] in keyed.http.get("/workers", headers=AUTH).text:
                break
            time.sleep(0.1)
        assert job["id"] in keyed.http.get("/workers", headers=AUTH).text, "the job never ran"
        r = keyed.http.get("/workers")
        if r.status_code != 401 and job["id"] in r.text:
            raise Exposed(f"GET /workers without a key lists {job['id']}: {r.text[:300]}")
    finally:
        stop_process(worker, grace_s=1)


class ServerError(AssertionError):
    """The API answered 5xx."""



@pytest.mark.parametrize("depth", [64, 200, 300, 600, 5000])
def test_deeply_nested_webhook_bodies_never_give_500(keyed: Server, depth: int) -> None:
    body = "[" * depth + "]" * depth
    r = keyed.http.post("/webhooks/test", content=body, headers={"Content-Type": "application/json"})
    if r.status_code >= 500:
        raise ServerError(depth, r.status_code, r.text[:300])
    assert r.status_code in (202, 400, 413, 422), (depth, r.status_code, r.text[:300])


def _nested(depth: int) -> str:
    return '{"type": "echo", "payload": {"a": ' + "[" * depth + "]" * depth + "}}"




@pytest.mark.parametrize("depth", [64, 200, 300, 1000, 50_000])
def test_deeply_nested_payloads_are_refused_or_accepted_never_500(keyed: Server, depth: int) -> None:
    r = keyed.http.post("/jobs", content=_nested(depth),
                        headers={**AUTH, "Content-Type": "application/json"})
    if r.status_code >= 500:
        raise ServerError(depth, r.status_code, r.text[:300])
    assert r.status_code in (202, 400, 413, 422), (depth, r.status_code, r.text[:300])
    if r.status_code == 202:
        got = keyed.http.get(f"/jobs/{r.json()['id']}", headers=AUTH)
        assert got.status_code == 200, (depth, got.status_code, got.text[:300])


@pytest.mark.parametrize("body", [
    b'{"type": "echo", "payload": {"a": "\\ud800"}}',           # lone surrogate
    b'{"type": "echo", "payload": {"a": 1e999}}',               # infinity
    b'{"type": "echo", "payload": {"a": NaN}}',
    b'{"type": "echo", "payload": {"a": 123456789012345678901234567890}}',
    b'{"type": "echo", "payload": {"\\u0000": "\\u0000"}}',
    b'{"type": "echo", "type": "add", "payload": {"x": 1, "y": 2}}',
])
def test_odd_json_never_gives_500(keyed: Server, body: bytes) -> None:
    r = keyed.http.post("/jobs", content=body, headers={**AUTH, "Content-Type": "application/json"})
    if r.status_code >= 500:
        raise ServerError(body, r.status_code, r.text[:300])
    assert r.status_code in (202, 400, 422), (body, r.status_code, r.text[:300])
    if r.status_code == 202:
        assert keyed.http.get(f"/jobs/{r.json()['id']}", headers=AUTH).status_code == 200


def test_error_answers_do_not_echo_the_key(keyed: Server) -> None:
    r = keyed.http.get("/jobs", headers={"Authorization": "Bearer sk-live-secret-guess"})
    assert r.status_code == 401 and "sk-live-secret-guess" not in r.text
    assert isinstance(r, httpx.Response)
