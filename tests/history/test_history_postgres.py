"""Job history in a real PostgreSQL server (started by the tests, see conftest.py), with a
real API, real workers and the session's Valkey: every job that ends is archived once
(success, failure, cancel, loss), the database stopped for 10 s under load loses nothing
and writes no job twice, reads fall back to it after Redis has expired a job, and the
migrations run from an empty database and from the previous revision, also from several
processes at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import func, insert, inspect, select, text

from src.history import History, job_row
from src.history.schema import jobs, metadata, webhook_events
from src.queue import Keys
from tests.api.support import (
    ROOT,
    Server,
    base_env,
    start_api,
    start_worker,
    stop_process,
    wait_for,
    wait_status,
)
from tests.history.archived import archived, check_usage_columns, rows

from .postgres import PostgresServer

HEAD = "0003"


#: the offline provider's "model", priced so that the cost column gets a number
PRICES = '{"offline": {"prompt": 2.0, "completion": 8.0}}'


@pytest.fixture(scope="module")
def db_url(new_postgres_database: Callable[[], str]) -> str:
    return new_postgres_database()


@pytest.fixture(scope="module")
def env(redis_url: str, db_url: str) -> dict[str, str]:
    return base_env(redis_url, f"t{uuid.uuid4().hex[:10]}",
                    AGENTQ_DATABASE_URL=db_url, AGENTQ_RESULT_TTL_S="2",
                    AGENTQ_LLM_PRICES=PRICES)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Iterator[Server]:
    server = start_api(tmp_path_factory.mktemp("api"), env)  # on an empty database
    yield server
    server.http.close()
    stop_process(server.proc)


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str],
           api: Server) -> Iterator[subprocess.Popen[bytes]]:
    proc = start_worker(tmp_path_factory.mktemp("worker"), env, "--concurrency", "8")
    yield proc
    stop_process(proc, grace_s=10)


@pytest.fixture(scope="module")
def history(db_url: str, api: Server) -> Iterator[History]:
    h = History(db_url)
    yield h
    h.close()


@pytest.fixture(scope="module")
def keys(env: dict[str, str]) -> Keys:
    return Keys(env["AGENTQ_NAMESPACE"])


@pytest.fixture(scope="module")
def valkey(redis_url: str) -> Iterator[redis.Redis]:
    r = redis.Redis.from_url(redis_url)
    yield r
    r.close()




# --- archiving, with the module's API and worker -----------------------------------------


@pytest.mark.usefixtures("worker")
def test_a_succeeded_job_is_archived_with_its_timings(api: Server, history: History) -> None:
    assert history.revision() == HEAD  # the API and the worker migrated the empty database
    job = api.http.post("/jobs", json={"type": "sleep",
                                       "payload": {"seconds": 0.3, "steps": 3}}).json()
    done = wait_status(api.http, job["id"], {"succeeded"})
    row = archived(history, job["id"])
    assert (row.status, row.type, row.queue, row.attempts) == ("succeeded", "sleep", "default", 1)
    assert row.result == {"slept": 0.3, "steps": 3} and row.payload == {"seconds": 0.3, "steps": 3}
    assert row.run_s is not None and 0.25 <= row.run_s < 5
    assert row.queue_wait_s is not None and row.queue_wait_s >= 0
    assert row.worker == done["worker"] and row.events >= 5  # running, 3 progress, succeeded
    assert row.created_at.tzinfo is None and row.finished_at > row.started_at >= row.created_at
    assert row.record == done


@pytest.mark.usefixtures("worker")
def test_the_llm_usage_is_archived_in_its_columns(api: Server, history: History) -> None:
    check_usage_columns(api, history)


@pytest.mark.usefixtures("worker")
def test_failed_and_cancelled_jobs_are_archived(api: Server, history: History) -> None:
    failed = api.http.post("/jobs", json={"type": "fail", "payload": {"times": 5, "message": "no"},
                                          "max_attempts": 2}).json()
    idle = f"idle-{uuid.uuid4().hex[:6]}"  # no worker serves it: the job stays queued
    cancelled = api.http.post("/jobs", json={"type": "add", "payload": {"x": 1, "y": 1},
                                             "queue": idle}).json()
    assert api.http.post(f"/jobs/{cancelled['id']}/cancel").status_code == 202
    row = archived(history, failed["id"])
    assert (row.status, row.error_type, row.error_message, row.attempts, row.max_attempts) == (
        "failed", "exception", "RuntimeError: no", 2, 2)
    row = archived(history, cancelled["id"])
    assert (row.status, row.error_type, row.queue, row.started_at, row.run_s) == (
        "cancelled", "cancelled", idle, None, None)


@pytest.mark.slow
@pytest.mark.usefixtures("worker")
def test_a_job_lost_with_its_worker_is_archived(api: Server, history: History,
                                                tmp_path: Path) -> None:
    queue = f"lost-{uuid.uuid4().hex[:6]}"
    doomed = start_worker(tmp_path, api.env, "--queues", queue)
    try:
        job = api.http.post("/jobs", json={"type": "sleep", "payload": {"seconds": 60},
                                           "queue": queue, "max_attempts": 1}).json()
        running = wait_status(api.http, job["id"], {"running"}, timeout_s=20)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
    finally:
        stop_process(doomed)
    row = archived(history, job["id"], timeout_s=40)  # recovered after the worker timeout
    assert (row.status, row.error_type) == ("failed", "lost")
    assert row.worker == running["worker"] and row.started_at is not None


@pytest.mark.usefixtures("worker")
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


# --- reads that fall back to the history ----------------------------------------------------


@pytest.mark.usefixtures("worker")
def test_an_expired_job_is_still_read_and_listed_from_postgres(
    api: Server, history: History, valkey: redis.Redis, keys: Keys
) -> None:
    marker = uuid.uuid4().hex[:8]
    job = api.http.post("/jobs", json={"type": "echo", "payload": {"marker": marker}}).json()
    wait_status(api.http, job["id"], {"succeeded"})
    live = api.http.get(f"/jobs/{job['id']}").json()
    assert "archived" not in live
    archived(history, job["id"])
    # AGENTQ_RESULT_TTL_S=2: Redis forgets the job; the API answers from Postgres
    wait_for(lambda: not valkey.exists(keys.job(job["id"])), timeout_s=15)
    r = api.http.get(f"/jobs/{job['id']}")
    assert r.status_code == 200 and r.json() == {**live, "archived": True}
    listed = api.http.get("/jobs", params={"q": marker}).json()
    assert [j["id"] for j in listed["jobs"]] == [job["id"]] and listed["jobs"][0]["archived"]
    by_type = api.http.get("/jobs", params={"type": "echo", "status": "succeeded",
                                            "since": live["created_at"]}).json()["jobs"]
    assert job["id"] in [j["id"] for j in by_type]
    assert api.http.get("/jobs", params={"q": marker, "until": live["created_at"]}
                        ).json()["jobs"] == []
    assert api.http.get(f"/jobs/{uuid.uuid4().hex}").status_code == 404


@pytest.mark.usefixtures("worker")
def test_listing_pages_through_redis_and_postgres_without_duplicates(
    api: Server, history: History
) -> None:
    kind = f"page-{uuid.uuid4().hex[:6]}"
    ids = [api.http.post("/jobs", json={"type": "echo", "payload": {"kind": kind, "i": i}}
                         ).json()["id"] for i in range(7)]
    for job_id in ids:
        wait_status(api.http, job_id, {"succeeded"})
    for job_id in ids:
        archived(history, job_id)
    seen: list[str] = []
    before = None
    for _ in range(10):
        params: dict[str, Any] = {"q": kind, "limit": 3, **({"before": before} if before else {})}
        page = api.http.get("/jobs", params=params).json()
        seen += [j["id"] for j in page["jobs"]]
        before = page["next_before"]
        if not before:
            break
    assert seen == sorted(ids, reverse=True)


@pytest.mark.usefixtures("worker")
def test_stats_come_from_postgres(api: Server, history: History) -> None:
    stats = wait_for(lambda: (s := api.http.get("/history/stats").json())["run_time"] and s)
    assert stats["enabled"] is True
    with history.engine.connect() as conn:
        ended = conn.execute(select(func.count()).select_from(jobs).where(
            jobs.c.finished_at >= datetime.fromisoformat(stats["since"][:-1]))).scalar_one()
    counted = sum(v for hour in stats["per_hour"] for k, v in hour.items() if k != "hour")
    assert counted <= ended and counted >= 1
    sleep = next(t for t in stats["run_time"] if t["type"] == "sleep")
    assert 0.25 <= sleep["p50_s"] <= sleep["p95_s"]


# --- the database stopped under load ------------------------------------------------------


@pytest.mark.slow
@pytest.mark.usefixtures("worker")
def test_the_database_stopped_for_10_s_under_load_loses_nothing_and_writes_each_job_once(
    api: Server, history: History, postgres_server: PostgresServer, valkey: redis.Redis,
    keys: Keys,
) -> None:
    """Jobs are submitted and end all along; Postgres is stopped (fast shutdown) for 10 s
    in the middle. The ends wait in Redis's archive list, and once the server is back
    every job is in the table exactly once."""
    kind = f"outage-{uuid.uuid4().hex[:6]}"
    ids: list[str] = []
    errors: list[str] = []
    stop = threading.Event()

    def submit() -> None:
        with httpx.Client(base_url=api.url, timeout=30) as http:
            i = 0
            while not stop.is_set():
                r = http.post("/jobs", json={"type": "echo", "payload": {"kind": kind, "i": i}})
                if r.status_code != 202:
                    errors.append(f"{r.status_code} {r.text}")
                    return
                ids.append(r.json()["id"])
                i += 1
                time.sleep(0.03)

    submitter = threading.Thread(target=submit, daemon=True)
    submitter.start()
    try:
        time.sleep(2)
        postgres_server.stop()
        down = datetime.now(UTC).replace(tzinfo=None)
        time.sleep(5)
        ended_while_down = len(ids)
        time.sleep(5)
        backlog_while_down = valkey.llen(keys.archive)
        ready = api.http.get("/ready").json()
        postgres_server.start()
        up = datetime.now(UTC).replace(tzinfo=None)
        time.sleep(2)
    finally:
        stop.set()
        submitter.join(30)
        if not postgres_server.running:
            postgres_server.start()
    assert errors == []  # submitting never depended on the database
    assert ready["status"] == "ready" and ready["history_backlog"] == backlog_while_down
    # the jobs went on ending while the database was away, and waited in the list
    assert backlog_while_down >= ended_while_down // 2 > 0, (backlog_while_down, ended_while_down)
    with httpx.Client(base_url=api.url, timeout=30) as http:
        for job_id in ids:
            wait_status(http, job_id, {"succeeded"}, timeout_s=30)

    def archived() -> int:
        with history.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(jobs)
                                .where(jobs.c.id.in_(ids))).scalar_one()

    wait_for(lambda: archived() == len(ids), timeout_s=90, interval_s=0.5)
    wait_for(lambda: valkey.llen(keys.archive) == 0, timeout_s=30)
    with history.engine.connect() as conn:
        per_id = conn.execute(select(jobs.c.id, func.count()).where(
            jobs.c.search.contains(kind)).group_by(jobs.c.id)).all()
        finished = conn.execute(select(jobs.c.finished_at).where(jobs.c.id.in_(ids))).scalars()
        during = sum(1 for at in finished if down <= at <= up)
    assert len(per_id) == len(ids) and {n for _, n in per_id} == {1}
    assert sorted(i for i, _ in per_id) == sorted(ids)
    assert during > 0, "no job ended while the database was stopped"


# --- migrations -------------------------------------------------------------------------------


def _schema(url: str) -> dict[str, set[str]]:
    """Per table: its columns, its indexes and `unique(<columns>)`, as the database has them."""
    h = History(url)
    try:
        with h.engine.connect() as conn:
            insp = inspect(conn)
            return {t: {c["name"] for c in insp.get_columns(t)}
                    | {i["name"] for i in insp.get_indexes(t) if "duplicates_constraint" not in i}
                    | {f"unique({','.join(u['column_names'])})"
                       for u in insp.get_unique_constraints(t)}
                    for t in insp.get_table_names()}
    finally:
        h.close()


def _expected() -> dict[str, set[str]]:
    return {t.name: {c.name for c in t.columns} | {i.name for i in t.indexes if i.name}
            | {f"unique({c.name})" for c in t.columns if c.unique}
            for t in metadata.sorted_tables}


def test_migrations_build_the_schema_from_an_empty_database(
    new_postgres_database: Callable[[], str],
) -> None:
    url = new_postgres_database()
    h = History(url)
    try:
        assert h.revision() is None
        h.upgrade()
        assert h.revision() == HEAD
        h.upgrade()  # again: nothing to do
        assert h.revision() == HEAD
    finally:
        h.close()
    schema = _schema(url)
    assert schema.pop("alembic_version") == {"version_num"}
    assert schema == _expected()


def test_migrations_upgrade_from_the_previous_revision_keeping_the_rows(
    new_postgres_database: Callable[[], str],
) -> None:
    url = new_postgres_database()
    h = History(url)
    try:
        h.upgrade("0001")
        assert h.revision() == "0001"
        assert set(_schema(url)) == {"alembic_version", "jobs"}
        record = {"id": "01KOLD", "type": "add", "queue": "default", "status": "succeeded",
                  "payload": {"x": 1}, "result": 2, "attempt": 1, "max_attempts": 3,
                  "created_at": "2026-11-01T10:00:00.000Z", "started_at": "2026-11-01T10:00:01.000Z",
                  "finished_at": "2026-11-01T10:00:03.500Z"}
        old_row = {k: v for k, v in job_row(record, 3).items()
                   if k not in ("prompt_tokens", "completion_tokens", "cost")}  # from 0003
        with h.engine.begin() as conn:
            conn.execute(insert(jobs).values(**old_row))
        h.upgrade()
        assert h.revision() == HEAD
        assert h.get("01KOLD") == {**record, "archived": True}
        (row,) = rows(h, "01KOLD")
        assert (row.run_s, row.queue_wait_s, row.events) == (2.5, 1.0, 3)
        assert (row.prompt_tokens, row.completion_tokens, row.cost) == (None, None, None)
        h.archive_webhooks([{"job_id": "01KOLD", "source": "github", "headers": {},
                             "received_at": datetime(2026, 11, 1, 10), "body": None}])
    finally:
        h.close()
    assert _schema(url) == {**_expected(), "alembic_version": {"version_num"}}


_UPGRADE = """
import sys, time
from src.cli import main
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
sys.exit(main(["db", "upgrade"]))
"""


@pytest.mark.parametrize("start", ["empty", "0001"])
def test_several_processes_upgrading_at_once_are_safe(
    new_postgres_database: Callable[[], str], tmp_path: Path, start: str,
) -> None:
    """Five `agentq db upgrade` at the same instant (the migration lock serialises them):
    all succeed, and the schema is migrated once."""
    url = new_postgres_database()
    if start != "empty":
        h = History(url)
        h.upgrade(start)
        h.close()
    env = base_env("redis://127.0.0.1:1/0", "unused", AGENTQ_DATABASE_URL=url,
                   PYTHONPATH=str(ROOT))
    at = time.time() + 3  # after every interpreter has started
    procs = [subprocess.Popen([sys.executable, "-c", _UPGRADE, str(at)], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for _ in range(5)]
    outputs = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=60)
            outputs.append((p.returncode, out.decode(errors="replace")))
    finally:
        for p in procs:
            stop_process(p)
    assert all(code == 0 for code, _ in outputs), outputs
    assert all(f"at revision {HEAD}" in out for _, out in outputs), outputs
    h = History(url)
    try:
        assert h.revision() == HEAD
        with h.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        h.close()
    assert _schema(url) == {**_expected(), "alembic_version": {"version_num"}}
