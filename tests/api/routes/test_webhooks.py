"""`/webhooks/{source}` over HTTP, with AGENTQ_WEBHOOK_SECRET set."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest

SECRET = "s3cret-for-tests"


@pytest.fixture(scope="module")
def api_env(api_env: dict[str, str]) -> dict[str, str]:
    return {**api_env, "AGENTQ_WEBHOOK_SECRET": SECRET}


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def test_signed_delivery_becomes_a_webhook_event_job(http: httpx.Client) -> None:
    body = json.dumps({"action": "opened", "number": 7}).encode()
    r = http.post("/webhooks/github", content=body, headers=signed(body))
    assert r.status_code == 202
    accepted = r.json()
    assert accepted["type"] == "webhook_event" and accepted["status"] == "queued"
    assert r.headers["location"] == f"/jobs/{accepted['id']}"
    job = http.get(f"/jobs/{accepted['id']}").json()
    assert job["type"] == "webhook_event"
    assert job["payload"] == {"source": "github", "body": {"action": "opened", "number": 7}}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Signature-256": "sha256=" + "0" * 64},
        {"X-Signature-256": "md5=abc"},
        {"X-Signature-256": ""},
    ],
    ids=["missing", "wrong", "bad-prefix", "empty"],
)
def test_unsigned_or_wrongly_signed_is_401(http: httpx.Client, headers: dict[str, str]) -> None:
    body = b'{"action": "opened"}'
    r = http.post(
        "/webhooks/github", content=body, headers={"Content-Type": "application/json", **headers}
    )
    assert r.status_code == 401
    assert "X-Signature-256" in r.json()["detail"]


def test_signature_with_another_secret_is_401(http: httpx.Client) -> None:
    body = b'{"a": 1}'
    assert http.post("/webhooks/x", content=body, headers=signed(body, "other")).status_code == 401


def test_signature_of_another_body_is_401(http: httpx.Client) -> None:
    headers = signed(b'{"a": 1}')
    assert http.post("/webhooks/x", content=b'{"a": 2}', headers=headers).status_code == 401


def test_signed_body_that_is_not_json_is_422(http: httpx.Client) -> None:
    body = b"not json"
    r = http.post("/webhooks/github", content=body, headers=signed(body))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body"]


def test_signed_body_too_deep_to_store_is_422(http: httpx.Client) -> None:
    body = b"[" * 300 + b"]" * 300
    r = http.post("/webhooks/github", content=body, headers=signed(body))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body"]


def test_bad_source_is_422(http: httpx.Client) -> None:
    body = b"{}"
    r = http.post("/webhooks/has%20space", content=body, headers=signed(body))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["path", "source"]
