"""`/queues` and `/workers` over HTTP."""

from __future__ import annotations

import subprocess

import httpx

from tests.api.support import wait_for


def test_queues_count_waiting_and_finished_jobs(
    http: httpx.Client, queue_name: str, worker: subprocess.Popen[bytes]
) -> None:
    for i in range(3):
        assert (
            http.post(
                "/jobs", json={"type": "echo", "payload": {"i": i}, "queue": queue_name}
            ).status_code
            == 202
        )
    done = http.post(
        "/jobs", params={"wait": 10}, json={"type": "add", "payload": {"x": 1, "y": 2}}
    )
    assert done.json()["status"] == "succeeded"
    body = http.get("/queues").json()
    by_name = {q["name"]: q for q in body["queues"]}
    assert by_name[queue_name]["queued"] == 3 and by_name[queue_name]["enqueued"] == 3
    assert by_name[queue_name]["succeeded"] == 0 and by_name[queue_name]["running"] == 0
    assert by_name["default"]["succeeded"] >= 1
    assert body["workers"] == 1
    assert {"scheduled", "dead"} <= body.keys()


def test_queues_count_scheduled_jobs(http: httpx.Client, queue_name: str) -> None:
    before = http.get("/queues").json()["scheduled"]
    http.post("/jobs", json={"type": "echo", "queue": queue_name, "delay_s": 3600})
    assert http.get("/queues").json()["scheduled"] == before + 1


def test_workers_lists_the_live_worker_and_its_jobs(
    http: httpx.Client, worker: subprocess.Popen[bytes]
) -> None:
    job = http.post("/jobs", json={"type": "sleep", "payload": {"seconds": 2, "steps": 2}}).json()

    def running_on_worker() -> dict | None:
        workers = http.get("/workers").json()["workers"]
        return next((w for w in workers if job["id"] in w["jobs"]), None)

    w = wait_for(running_on_worker, timeout_s=10)
    assert w["pid"] == worker.pid
    assert w["queues"] == ["default"] and w["concurrency"] == 4
    assert w["host"] and w["last_heartbeat"].endswith("Z")
    assert job["id"] in w["jobs"]
