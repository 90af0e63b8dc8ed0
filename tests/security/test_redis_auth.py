"""A password-protected Redis: the worker and the API work with `redis://:pw@...` and
fail clearly (naming the authentication problem, never a 500) with a wrong one or none.

TLS (`rediss://`) is not tested here: the embedded Valkey is built without TLS
(`--tls-port` answers "Failed finding TLS support"); see SECURITY.md.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.api.support import wait_for
from tests.support import ValkeyServer, WorkerProcess

PASSWORD = "s3cret-Pw-9f1c"


@pytest.fixture(scope="module")
def locked() -> Iterator[ValkeyServer]:
    server = ValkeyServer(password=PASSWORD).start()
    yield server
    server.cleanup()


def _url(server: ValkeyServer, password: str | None) -> str:
    auth = f":{password}@" if password is not None else ""
    return f"redis://{auth}127.0.0.1:{server.port}/0"


def test_api_and_worker_work_with_the_password(locked: ValkeyServer, start_api_with) -> None:
    api = start_api_with(url=_url(locked, PASSWORD))
    worker = WorkerProcess(_url(locked, PASSWORD), api.namespace, concurrency=2)
    try:
        assert api.http.get("/ready").status_code == 200
        r = api.http.post("/jobs", params={"wait": 15}, json={"type": "add", "payload": {"x": 2, "y": 3}})
        assert r.status_code == 200 and r.json()["status"] == "succeeded" and r.json()["result"] == 5
    finally:
        worker.stop()


@pytest.mark.parametrize("password", ["wrong-password", None], ids=["wrong", "none"])
def test_api_with_a_bad_password_answers_503_naming_it(locked: ValkeyServer, start_api_with,
                                                       password: str | None) -> None:
    api = start_api_with(url=_url(locked, password))
    ready = api.http.get("/ready")
    assert ready.status_code == 503 and ready.headers["retry-after"]
    reason = ready.json()["redis"].lower()
    assert any(w in reason for w in ("auth", "password", "wrongpass", "noauth")), reason
    r = api.http.post("/jobs", json={"type": "add", "payload": {"x": 1, "y": 1}})
    assert r.status_code == 503, r.text
    assert PASSWORD not in ready.text and PASSWORD not in r.text
    assert "wrong-password" not in ready.text, "the configured password leaks into answers"


@pytest.mark.parametrize("password", ["wrong-password", None], ids=["wrong", "none"])
def test_worker_with_a_bad_password_says_so(locked: ValkeyServer, password: str | None) -> None:
    worker = WorkerProcess(_url(locked, password), "tauth", concurrency=1)
    try:
        log = wait_for(lambda: (text := worker.log().lower()) and any(
            w in text for w in ("password", "authentication", "noauth", "wrongpass")) and text,
            timeout_s=15, interval_s=0.2)
        assert "wrong-password" not in log, "the password is written to the log"
    finally:
        worker.kill()
        worker.stop(timeout=5)


def test_worker_with_a_wrong_password_exits_non_zero(locked: ValkeyServer) -> None:
    worker = WorkerProcess(_url(locked, "wrong-password"), "tauth", concurrency=1)
    try:
        deadline = time.monotonic() + 8
        while worker.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert worker.proc.poll() not in (None, 0)
    finally:
        worker.kill()
        worker.stop(timeout=5)


def test_worker_waiting_for_redis_stops_on_sigterm() -> None:
    """Redis not there at start: the worker waits for it, and still stops on SIGTERM."""
    from tests.support import free_port

    worker = WorkerProcess(f"redis://127.0.0.1:{free_port()}/0", "tauth", concurrency=1)
    try:
        wait_for(lambda: "unavailable" in worker.log().lower(), timeout_s=15, interval_s=0.2)
        worker.terminate()
        deadline = time.monotonic() + 3
        while worker.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert worker.proc.poll() is not None, "SIGTERM ignored while waiting for Redis"
    finally:
        worker.kill()
        worker.stop(timeout=5)
