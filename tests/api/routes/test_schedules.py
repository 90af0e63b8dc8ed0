"""`/schedules` over HTTP: what the API knows of the schedules, and what the workers did."""

from __future__ import annotations

import subprocess
import time
from datetime import datetime

import httpx
import orjson
import pytest

from src.queue.models import parse_iso
from tests.api.support import wait_for

SCHEDULES = [
    {"name": "hourly-digest", "task": "echo", "cron": "0 * * * *", "payload": {"k": 1},
     "timezone": "Asia/Kolkata", "catch_up": True, "queue": "cron-api-idle"},
    {"name": "every-second", "type": "echo", "cron": "* * * * * *", "queue": "cron-api-idle"},
]


@pytest.fixture(scope="module")
def api_env(api_env: dict[str, str]) -> dict[str, str]:
    return {**api_env, "AGENTQ_SCHEDULES": orjson.dumps(SCHEDULES).decode()}


def test_schedules_lists_each_schedule_with_its_next_tick(http: httpx.Client) -> None:
    before = time.time()
    r = http.get("/schedules")
    assert r.status_code == 200
    by_name = {s["name"]: s for s in r.json()["schedules"]}
    assert list(by_name) == ["every-second", "hourly-digest"]
    digest = by_name["hourly-digest"]
    assert {k: digest[k] for k in ("task", "type", "cron", "timezone", "queue", "payload",
                                   "catch_up", "last_run")} == {
        "task": "echo", "type": "echo", "cron": "0 * * * *", "timezone": "Asia/Kolkata",
        "queue": "cron-api-idle", "payload": {"k": 1}, "catch_up": True, "last_run": None}
    # Kolkata is UTC+05:30: its whole hours fall at half past in UTC
    next_run = digest["next_run"]
    assert next_run.endswith(":30:00.000Z") and before < parse_iso(next_run) <= before + 3600
    every = by_name["every-second"]
    assert every["timezone"] == "UTC" and every["payload"] == {} and every["catch_up"] is False
    assert datetime.fromisoformat(every["next_run"].replace("Z", "+00:00"))


def test_last_run_and_the_job_show_the_tick_a_worker_enqueued(
    http: httpx.Client, worker: subprocess.Popen[bytes]
) -> None:
    def ran() -> dict | None:
        every = next(s for s in http.get("/schedules").json()["schedules"]
                     if s["name"] == "every-second")
        return every if every["last_run"] else None

    every = wait_for(ran, timeout_s=15)
    jobs = http.get("/jobs", params={"queue": "cron-api-idle"}).json()["jobs"]
    ticks = {j["schedule"]["tick"] for j in jobs if j["schedule"]["name"] == "every-second"}
    assert every["last_run"] in ticks or parse_iso(every["last_run"]) > max(map(parse_iso, ticks))
    job = http.get(f"/jobs/{jobs[0]['id']}").json()
    assert job["schedule"]["name"] == "every-second" and job["type"] == "echo"


def test_the_schema_documents_the_answer(http: httpx.Client) -> None:
    schema = http.get("/openapi.json").json()
    answer = schema["components"]["schemas"]["SchedulesPublic"]
    assert answer["examples"][0]["schedules"][0]["name"] == "inbox-digest"
    assert "/schedules" in schema["paths"]
