"""Completion callbacks on every terminal transition, none lost: a cancelled queued job, a
failed job and a job lost with its worker each deliver exactly one signed callback, also
when the worker that finished the job is SIGKILLed right after."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_sync

from tests.api.support import Server, start_worker, stop_process, wait_for, wait_status
from tests.api.test_callbacks import SECRET, Receiver, valid_signature

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture(scope="module")
def api_env(api_env: dict[str, str]) -> dict[str, str]:
    # a short delivery timeout keeps the lease (timeout + 5 s) short
    return {**api_env, "AGENTQ_WEBHOOK_SECRET": SECRET, "AGENTQ_CALLBACK_TIMEOUT_S": "1"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def _one_callback(receiver: Receiver, job_id: str, settle_s: float = 1.5) -> dict[str, Any]:
    wait_for(lambda: receiver.requests, timeout_s=20)
    time.sleep(settle_s)  # a second delivery would arrive by now
    assert len(receiver.requests) == 1, [r["body"] for r in receiver.requests]
    (req,) = receiver.requests
    assert valid_signature(req)
    body = json.loads(req["body"])
    assert body["id"] == job_id
    return body


def test_a_cancelled_queued_job_calls_back_once(http: httpx.Client, receiver: Receiver,
                                                queue_name: str) -> None:
    job = http.post("/jobs", json={"type": "add", "payload": {"x": 1, "y": 2}, "queue": queue_name,
                                   "callback_url": receiver.url}).json()
    assert http.post(f"/jobs/{job['id']}/cancel").status_code == 202
    body = _one_callback(receiver, job["id"])
    assert body["status"] == "cancelled" and body["error"]["type"] == "cancelled"


def test_a_failed_job_calls_back_once(http: httpx.Client, receiver: Receiver) -> None:
    job = http.post("/jobs", json={"type": "fail", "payload": {"times": 9}, "max_attempts": 2,
                                   "callback_url": receiver.url}).json()
    body = _one_callback(receiver, job["id"])
    assert body["status"] == "failed" and body["attempt"] == 2


def test_a_job_lost_with_its_worker_calls_back_once_and_keeps_where_it_ran(
    api: Server, http: httpx.Client, receiver: Receiver, module_dir: Path, queue_name: str
) -> None:
    doomed = start_worker(module_dir / "doomed", api.env, "--queues", queue_name)
    try:
        job = http.post("/jobs", json={"type": "sleep", "payload": {"seconds": 60},
                                       "queue": queue_name, "max_attempts": 1,
                                       "callback_url": receiver.url}).json()
        running = wait_status(http, job["id"], {"running"}, timeout_s=20)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
    finally:
        stop_process(doomed)
    body = _one_callback(receiver, job["id"])  # the module's worker recovers it
    assert body["status"] == "failed" and body["error"]["type"] == "lost"
    assert body["started_at"] == running["started_at"] and body["worker"] == running["worker"]
    record = http.get(f"/jobs/{job['id']}").json()
    assert record["started_at"] and record["worker"]


def test_the_callback_survives_the_finishing_worker_killed_right_after(
    api: Server, http: httpx.Client, receiver: Receiver, module_dir: Path, queue_name: str
) -> None:
    """The worker that finishes the job is frozen the moment the job ends, and killed while
    the callback is still unleased (so it cannot have sent it): another worker delivers."""
    r = redis_sync.Redis.from_url(api.env["REDIS_URL"])
    prefix = "{" + api.namespace + "}"
    try:
        for _ in range(5):
            before = r.zcard(f"{prefix}:workers")
            finisher = start_worker(module_dir / "finisher", api.env, "--queues", queue_name,
                                    "--concurrency", "1")
            try:
                wait_for(lambda n=before: r.zcard(f"{prefix}:workers") > n, timeout_s=20)
                job = http.post("/jobs", json={"type": "add", "payload": {"x": 2, "y": 3},
                                               "queue": queue_name,
                                               "callback_url": receiver.url}).json()
                key = f"{prefix}:job:{job['id']}"
                deadline = time.monotonic() + 20
                while b'"status":"succeeded"' not in (r.get(key) or b""):
                    assert time.monotonic() < deadline, "the job did not finish"
                    time.sleep(0.001)
                finisher.send_signal(signal.SIGSTOP)
                leased = [m for m, score in r.zrange(f"{prefix}:callbacks", 0, -1,
                                                     withscores=True)
                          if score > time.time() * 1000 + 1000]
                delivered = bool(receiver.requests)
                if leased or delivered:  # it had taken the callback already: try again
                    finisher.send_signal(signal.SIGCONT)
                    wait_for(lambda: receiver.requests, timeout_s=20)
                    receiver.requests.clear()
                    continue
                finisher.send_signal(signal.SIGKILL)
                finisher.wait(10)
                body = _one_callback(receiver, job["id"])
                assert body["status"] == "succeeded" and body["result"] == 5
                return
            finally:
                finisher.send_signal(signal.SIGCONT)
                stop_process(finisher)
        pytest.fail("the finishing worker always took its callback before it could be killed")
    finally:
        r.close()
