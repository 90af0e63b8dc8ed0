"""Callbacks never reach a private address unless it is allowed, whatever the URL's
spelling: a real receiver on 127.0.0.1 counts what arrives. (The plain cases, and
redirects not followed, are in tests/api/test_callbacks.py.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from src.queue.callbacks import deliver_callback

RECORD = {"id": "01JD6Z5Q3M8X4K2V7B9N0C1D2E", "status": "succeeded", "result": 1}


class _Receiver(ThreadingHTTPServer):
    hits = 0


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.server.hits += 1  # type: ignore[attr-defined]
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    server = _Receiver(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def _settings(allow: list[str]) -> SimpleNamespace:
    return SimpleNamespace(webhook_secret="", callback_allow=allow, callback_attempts=1,
                           callback_backoff_s=0, callback_timeout_s=2)


SPELLINGS = [
    "127.0.0.1", "localhost", "LOCALHOST.", "127.1", "2130706433", "0x7f000001", "0x7f.0.0.1",
    "0177.0.0.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::1]", "0.0.0.0",
]


@pytest.mark.parametrize("host", SPELLINGS)
async def test_loopback_in_any_spelling_is_not_called(receiver: _Receiver, host: str) -> None:
    port = receiver.server_address[1]
    delivered = await deliver_callback(RECORD, _settings([]), url=f"http://{host}:{port}/hook")
    assert delivered is False
    assert receiver.hits == 0, f"http://{host}:{port}/ reached the loopback receiver"


async def test_userinfo_does_not_hide_the_real_host(receiver: _Receiver) -> None:
    port = receiver.server_address[1]
    url = f"http://example.com@127.0.0.1:{port}/hook"
    assert await deliver_callback(RECORD, _settings(["example.com"]), url=url) is False
    assert receiver.hits == 0


async def test_the_receiver_is_reached_once_allowed(receiver: _Receiver) -> None:
    """Proof that the receiver would count a delivery: allowed explicitly, it gets one."""
    port = receiver.server_address[1]
    assert await deliver_callback(RECORD, _settings(["127.0.0.1"]), url=f"http://127.0.0.1:{port}/hook")
    assert receiver.hits == 1
