"""Job history in SQLite, with a real API, real workers and the session's Valkey: every job
that ends is archived once (success, failure, cancel, loss), reads fall back to it after
Redis has expired a job, and a database that is away loses nothing."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from src.history import History
from src.history.schema import webhook_events
from tests.api.routes.test_jobs import sse_events
from tests.api.support import (
    Server,
    base_env,
    start_api,
    start_worker,
    stop_process,
    wait_for,
    wait_status,
)
from tests.history.archived import archived, check_usage_columns, rows

#: the offline provider's "model", priced so that the cost column gets a number
PRICES = '{"offline": {"prompt": 2.0, "completion": 8.0}}'


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("history") / "history.db"


@pytest.fixture(scope="module")
def env(redis_url: str, db_path: Path) -> dict[str, str]:
    return base_env(redis_url, f"t{uuid.uuid4().hex[:10]}",
                    AGENTQ_DATABASE_URL=f"sqlite:///{db_path}", AGENTQ_RESULT_TTL_S="2",
                    AGENTQ_LLM_PRICES=PRICES)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Iterator[Server]:
    server = start_api(tmp_path_factory.mktemp("api"), env)
    yield server
    server.http.close()
    stop_process(server.proc)


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str],
           api: Server) -> Iterator[subprocess.Popen[bytes]]:
    proc = start_worker(tmp_path_factory.mktemp("worker"), env, "--concurrency", "4")
    yield proc
    stop_process(proc, grace_s=10)


@pytest.fixture(scope="module")
def history(db_path: Path, api: Server) -> Iterator[History]:
    h = History(f"sqlite:///{db_path}")
    yield h
    h.close()




pytestmark = pytest.mark.usefixtures("worker")


def test_a_succeeded_job_is_archived_with_its_timings(api: Server, history: History) -> None:
    job = api.http.post("/jobs", json={"type": "sleep",
                                       "payload": {"seconds": 0.3, "steps": 3}}).json()
    done = wait_status(api.http, job["id"], {"succeeded"})
    row = archived(history, job["id"])
    assert (row.status, row.type, row.queue, row.attempts) == ("succeeded", "sleep", "default", 1)
    assert row.result == {"slept": 0.3, "steps": 3} and row.payload == {"seconds": 0.3, "steps": 3}
    assert row.run_s is not None and 0.25 <= row.run_s < 5
    assert row.queue_wait_s is not None and row.queue_wait_s >= 0
    assert row.worker == done["worker"] and row.events >= 5  # running, 3 progress, succeeded
    assert row.record["finished_at"] == done["finished_at"]


def test_the_llm_usage_is_archived_in_its_columns(api: Server, history: History) -> None:
    check_usage_columns(api, history)


def test_failed_and_cancelled_jobs_are_archived(api: Server, history: History) -> None:
    failed = api.http.post("/jobs", json={"type": "fail", "payload": {"times": 5, "message": "no"},
                                          "max_attempts": 2}).json()
    idle = f"idle-{uuid.uuid4().hex[:6]}"
    cancelled = api.http.post("/jobs", json={"type": "add", "payload": {"x": 1, "y": 1},
                                             "queue": idle}).json()
    assert api.http.post(f"/jobs/{cancelled['id']}/cancel").status_code == 202
    row = archived(history, failed["id"])
    assert (row.status, row.error_type, row.error_message, row.attempts) == (
        "failed", "exception", "RuntimeError: no", 2)
    row = archived(history, cancelled["id"])
    assert (row.status, row.error_type, row.started_at) == ("cancelled", "cancelled", None)


def test_a_job_lost_with_its_worker_is_archived(api: Server, history: History,
                                                tmp_path: Path) -> None:
    queue = f"lost-{uuid.uuid4().hex[:6]}"
    doomed = start_worker(tmp_path, api.env, "--queues", queue)
    try:
        job = api.http.post("/jobs", json={"type": "sleep", "payload": {"seconds": 60},
                                           "queue": queue, "max_attempts": 1}).json()
        wait_status(api.http, job["id"], {"running"}, timeout_s=20)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
    finally:
        stop_process(doomed)
    row = archived(history, job["id"], timeout_s=30)  # recovered after the worker timeout
    assert (row.status, row.error_type) == ("failed", "lost") and row.worker and row.started_at


def test_an_expired_job_is_still_read_and_listed_from_the_history(api: Server,
                                                                   history: History) -> None:
    job = api.http.post("/jobs", json={"type": "add", "payload": {"x": 20, "y": 22}}).json()
    wait_status(api.http, job["id"], {"succeeded"})
    live = api.http.get(f"/jobs/{job['id']}").json()
    assert "archived" not in live
    archived(history, job["id"])
    wait_for(lambda: api.http.get(f"/jobs/{job['id']}").json().get("archived"), timeout_s=15)
    old = api.http.get(f"/jobs/{job['id']}").json()  # Redis forgot it (TTL 2 s)
    assert old == {**live, "archived": True}
    listed = api.http.get("/jobs", params={"type": "add", "q": '"x":20'}).json()["jobs"]
    assert [j["id"] for j in listed] == [job["id"]] and listed[0]["archived"] is True
    assert api.http.get(f"/jobs/{uuid.uuid4().hex}").status_code == 404
    # its event stream says how it ended, and ends
    (event,) = [e for _, e in sse_events(api, job["id"])]
    assert (event["type"], event["status"], event["at"]) == ("status", "succeeded",
                                                             live["finished_at"])


def test_listing_pages_through_redis_and_history_without_duplicates(api: Server,
                                                                    history: History) -> None:
    kind = f"page-{uuid.uuid4().hex[:6]}"
    ids = []
    for i in range(7):
        ids.append(api.http.post("/jobs", json={"type": "echo", "payload": {"kind": kind, "i": i}}
                                 ).json()["id"])
    for job_id in ids:
        wait_status(api.http, job_id, {"succeeded"})
    for job_id in ids[:4]:  # some from the history only, the rest still in Redis too
        archived(history, job_id)
    time.sleep(2.5)
    seen: list[str] = []
    before = None
    for _ in range(10):
        params: dict[str, Any] = {"q": kind, "limit": 3}
        if before:
            params["before"] = before
        page = api.http.get("/jobs", params=params).json()
        seen += [j["id"] for j in page["jobs"]]
        before = page["next_before"]
        if not before:
            break
    assert seen == sorted(ids, reverse=True)


def test_since_and_until_bound_the_creation_time(api: Server) -> None:
    job = api.http.post("/jobs", json={"type": "echo", "payload": {"t": "window"}}).json()
    created = job["created_at"]
    assert [j["id"] for j in api.http.get("/jobs", params={
        "since": created, "q": "window"}).json()["jobs"]] == [job["id"]]
    assert api.http.get("/jobs", params={"until": created, "q": "window"}).json()["jobs"] == []
    assert api.http.get("/jobs", params={"since": "not a time"}).status_code == 422


def test_a_webhook_is_kept_with_its_headers(api: Server, history: History) -> None:
    r = api.http.post("/webhooks/github", json={"action": "opened"},
                      headers={"X-GitHub-Event": "issues", "Authorization": "Bearer s3cret"})
    job_id = r.json()["id"]

    def row() -> Any:
        with history.engine.connect() as conn:
            return conn.execute(select(webhook_events)
                                .where(webhook_events.c.job_id == job_id)).first()

    hook = wait_for(row, timeout_s=20)
    assert hook.source == "github" and hook.body == {"action": "opened"}
    assert hook.headers["x-github-event"] == "issues" and "authorization" not in hook.headers


def test_ready_and_metrics_report_the_archive_backlog(api: Server) -> None:
    ready = api.http.get("/ready").json()
    assert ready["history"] in ("ok", "behind") and isinstance(ready["history_backlog"], int)
    assert "agentq_history_backlog" in api.http.get("/metrics").text


def test_stats_give_jobs_per_hour_and_run_times(api: Server) -> None:
    stats = wait_for(lambda: (s := api.http.get("/history/stats").json())["per_hour"] and s)
    assert stats["enabled"] is True
    assert sum(h.get("succeeded", 0) for h in stats["per_hour"]) >= 1
    assert {"type", "count", "p50_s", "p95_s"} <= set(stats["run_time"][0])


def test_a_locked_database_delays_the_archive_and_loses_nothing(
    api: Server, history: History, db_path: Path
) -> None:
    """The database refuses writes for 5 s (an exclusive lock held by another connection)
    while jobs end: they wait in Redis and are all archived, once each, afterwards."""
    lock = sqlite3.connect(db_path, timeout=30, isolation_level=None, check_same_thread=False)
    lock.execute("BEGIN EXCLUSIVE")
    released = threading.Event()

    def release() -> None:
        time.sleep(5)
        lock.execute("ROLLBACK")
        lock.close()
        released.set()

    threading.Thread(target=release, daemon=True).start()
    with httpx.Client(base_url=api.url, timeout=30) as http:
        ids = [http.post("/jobs", json={"type": "add", "payload": {"x": i, "y": 0}}).json()["id"]
               for i in range(40)]
        for job_id in ids:
            wait_status(http, job_id, {"succeeded"}, timeout_s=30)
    if not released.is_set():  # the jobs ended while the database refused writes
        assert not any(rows(history, job_id) for job_id in ids)
    wait_for(released.is_set, timeout_s=15)
    for job_id in ids:
        archived(history, job_id, timeout_s=60)
        assert len(rows(history, job_id)) == 1
