"""Outbound completion callbacks: signed POSTs of the finished record, retried with back-off,
refused for private and loopback addresses unless allowed."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from src.queue.callbacks import CallbackRefused, check_callback_url, deliver_callback
from tests.api.support import wait_for

SECRET = "callback-secret"


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records POSTs and answers with scripted statuses."""

    statuses: list[int] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if status in (301, 302, 307):
                    self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def settings(**overrides: Any) -> SimpleNamespace:
    base = dict(
        webhook_secret=SECRET,
        callback_allow=["127.0.0.1"],
        callback_attempts=4,
        callback_backoff_s=0.01,
        callback_timeout_s=2.0,
    )
    return SimpleNamespace(**{**base, **overrides})


RECORD = {"id": "01JD6Z5Q3M8X4K2V7B9N0C1D2E", "type": "add", "status": "succeeded", "result": 5}


def valid_signature(request: dict[str, Any], secret: str = SECRET) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(request["headers"].get("X-Signature-256", ""), expected)


async def test_delivers_the_record_signed(receiver: Receiver) -> None:
    assert await deliver_callback(RECORD, settings(), url=receiver.url) is True
    (req,) = receiver.requests
    assert json.loads(req["body"]) == RECORD
    assert req["headers"]["Content-Type"] == "application/json"
    assert valid_signature(req)


async def test_unsigned_without_a_secret(receiver: Receiver) -> None:
    assert await deliver_callback(RECORD, settings(webhook_secret=""), url=receiver.url)
    assert "X-Signature-256" not in receiver.requests[0]["headers"]


async def test_retries_5xx_and_429_then_succeeds(receiver: Receiver) -> None:
    receiver.statuses = [500, 429, 503]
    assert await deliver_callback(RECORD, settings(), url=receiver.url) is True
    assert len(receiver.requests) == 4


async def test_gives_up_after_the_last_attempt(receiver: Receiver) -> None:
    receiver.statuses = [502] * 10
    assert await deliver_callback(RECORD, settings(callback_attempts=3), url=receiver.url) is False
    assert len(receiver.requests) == 3


@pytest.mark.parametrize("status", [400, 404, 302])
async def test_client_errors_and_redirects_are_not_retried(receiver: Receiver, status: int) -> None:
    receiver.statuses = [status]
    assert await deliver_callback(RECORD, settings(), url=receiver.url) is False
    assert len(receiver.requests) == 1


async def test_connection_refused_is_retried_then_false() -> None:
    s = settings(callback_attempts=2)
    assert await deliver_callback(RECORD, s, url="http://127.0.0.1:1/hook") is False


async def test_loopback_is_refused_unless_allowed(receiver: Receiver) -> None:
    assert await deliver_callback(RECORD, settings(callback_allow=[]), url=receiver.url) is False
    assert receiver.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://10.0.0.8/x",
        "http://192.168.1.1/x",
        "http://172.16.0.1/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://0.0.0.0/x",
        "http://localhost/x",
        "http://api.localhost/x",
        "http://100.64.0.1/x",
        "file:///etc/passwd",
        "gopher://example.com/",
        "http:///nohost",
        "http://[::1/x",
    ],
)
async def test_non_public_or_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(CallbackRefused):
        await check_callback_url(url, [])


async def test_public_addresses_and_allowed_hosts_pass() -> None:
    await check_callback_url("https://93.184.216.34/hook", [])
    await check_callback_url("http://[2606:2800:220:1:248:1893:25c8:1946]/hook", [])
    await check_callback_url("http://127.0.0.1:8080/hook", ["127.0.0.1"])
    await check_callback_url("http://LOCALHOST/hook", ["localhost"])


@pytest.fixture(scope="module")
def api_env(api_env: dict[str, str]) -> dict[str, str]:
    return {**api_env, "AGENTQ_WEBHOOK_SECRET": SECRET}


@pytest.mark.usefixtures("worker")
def test_worker_posts_the_finished_record_to_callback_url(
    http: httpx.Client, receiver: Receiver
) -> None:
    job = http.post(
        "/jobs", json={"type": "add", "payload": {"x": 2, "y": 3}, "callback_url": receiver.url}
    ).json()
    wait_for(lambda: receiver.requests, timeout_s=15)
    (req,) = receiver.requests
    body = json.loads(req["body"])
    assert body["id"] == job["id"] and body["status"] == "succeeded" and body["result"] == 5
    assert valid_signature(req)
