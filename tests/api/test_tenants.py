"""Tenants (CONTRACT §2): a job belongs to the tenant of the key that created it; another
tenant's job answers 404 on every per-job route and never appears in a list (Redis or the
history database); admin keys see every tenant; unnamed keys are the tenant `default`."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from src.api.app import create_app
from src.api.settings import ApiSettings
from src.history import History, job_row
from src.queue.models import Envelope, Status, make_record, new_id
from tests.api.support import start_worker, stop_process, wait_for

PLAIN, ACME, BETA, ADMIN = "plain-key-1", "acme-key-2", "beta-key-3", "admin-key-4"
KEYS = f"{PLAIN},acme:{ACME},beta:{BETA}"
UNKNOWN = "01JD6Z5Q3M8X4K2V7B9N0C1D2E"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def db_url(module_dir: Path) -> str:
    return f"sqlite:///{module_dir / 'history.db'}"


@pytest.fixture(scope="module")
def api_env(api_env: dict[str, str], db_url: str) -> dict[str, str]:
    return {**api_env, "AGENTQ_API_KEYS": KEYS, "AGENTQ_ADMIN_KEYS": ADMIN,
            "AGENTQ_DATABASE_URL": db_url, "AGENTQ_WEBHOOK_TENANTS": "shop:acme"}


@pytest.fixture(scope="module")
def history(db_url: str, api: Any) -> Iterator[History]:
    h = History(db_url)  # the API made its schema
    yield h
    h.close()


def archive_only(history: History, tenant: str | None, status: str = "succeeded") -> str:
    """A job only the history holds (Redis forgot it), of `tenant`, ended now."""
    env = Envelope(id=new_id(), type="echo", queue="gone", tenant=tenant)
    now = time.time()
    record = make_record(env, Status(status), started_at=now - 1, finished_at=now)
    history.archive_jobs([job_row(record, 1)])
    return env.id


def submit(http: httpx.Client, key: str, queue: str, **body: Any) -> dict[str, Any]:
    r = http.post("/jobs", json={"type": "echo", "queue": queue, **body}, headers=auth(key))
    assert r.status_code in (200, 202), r.text
    return r.json()


# --- every per-job route ---------------------------------------------------------------


def job_routes() -> set[tuple[str, str]]:
    """(method, path) of every route of the app with `{job_id}` in its path, read from
    `app.routes` (routers included in the app hold their routes as route contexts)."""
    app = create_app(ApiSettings(AGENTQ_API_KEYS=KEYS))
    found: set[tuple[str, str]] = set()

    def visit(route: Any) -> None:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if path is not None and methods:
            found.update((m, path) for m in methods if m != "HEAD")
        for child in getattr(route, "routes", None) or ():
            visit(child)
        contexts = getattr(route, "effective_route_contexts", None)
        for context in contexts() if callable(contexts) else ():
            visit(context)

    for route in app.routes:
        visit(route)
    # the schema too: a route the walk above would miss is still listed
    for path, item in app.openapi()["paths"].items():
        found.update((m.upper(), path) for m in item if m in ("get", "post", "put", "patch",
                                                              "delete"))
    return {(m, p) for m, p in found if "{job_id}" in p}


def call(http: httpx.Client, method: str, path: str, job_id: str, key: str) -> tuple[int, Any]:
    """Status and (unless it streams) JSON body of `method path` for `job_id`; any other
    path parameter is `x`, a POST sends `{}`."""
    url = re.sub(r"\{[^}]+\}", "x", path.replace("{job_id}", job_id))
    kwargs: dict[str, Any] = {"headers": auth(key)}
    if method == "POST":
        kwargs["json"] = {}
    with http.stream(method, url, **kwargs) as r:
        if r.headers.get("content-type", "").startswith("text/event-stream"):
            return r.status_code, None
        r.read()
        return r.status_code, r.json() if r.content else None


def test_the_app_has_the_per_job_routes_this_module_knows() -> None:
    # the list is read from the app, so a new per-job route is checked below without edits
    assert {("GET", "/jobs/{job_id}"), ("GET", "/jobs/{job_id}/events"),
            ("POST", "/jobs/{job_id}/cancel"), ("POST", "/jobs/{job_id}/retry")} <= job_routes()


def test_another_tenants_job_is_404_on_every_per_job_route(
    http: httpx.Client, history: History, queue_name: str
) -> None:
    live = submit(http, ACME, queue_name)["id"]
    archived = archive_only(history, "acme")
    routes = sorted(job_routes())
    covered = []
    for method, path in routes:
        _, unknown_body = call(http, method, path, UNKNOWN, BETA)
        for job_id in (live, archived):
            status, body = call(http, method, path, job_id, BETA)
            assert status == 404, (method, path, job_id, body)
            # the same answer as for an id that does not exist: existence does not leak
            assert body == {"detail": unknown_body["detail"].replace(UNKNOWN, job_id)}, body
        covered.append((method, path))
    print("per-job routes covered:", covered)
    assert set(covered) == set(routes) and covered, "a route with {job_id} was not exercised"
    # the owner and an admin reach the job on each of them (so the 404 above is the check)
    for method, path in routes:
        for key in (ACME, ADMIN):
            status, body = call(http, method, path, live, key)
            assert status != 404, (method, path, key, body)
    assert http.get(f"/jobs/{archived}", headers=auth(ACME)).json()["archived"] is True
    assert http.get(f"/jobs/{archived}", headers=auth(ADMIN)).status_code == 200


def test_a_list_shows_only_the_keys_tenant_in_redis_and_in_the_history(
    http: httpx.Client, history: History, queue_name: str
) -> None:
    beta_job = submit(http, BETA, queue_name)["id"]
    acme_jobs = [submit(http, ACME, queue_name)["id"] for _ in range(3)]
    acme_archived = archive_only(history, "acme")
    beta_archived = archive_only(history, "beta")
    default_archived = archive_only(history, None)

    def listed(key: str, **params: Any) -> list[str]:
        r = http.get("/jobs", params={"queue": queue_name, **params}, headers=auth(key))
        assert r.status_code == 200, r.text
        return [j["id"] for j in r.json()["jobs"]]

    assert listed(BETA) == [beta_job]
    assert listed(ACME) == acme_jobs[::-1]
    assert set(listed(ADMIN)) == {beta_job, *acme_jobs}
    # paging: beta's only job is older than acme's three, and a page of one still finds it
    page = http.get("/jobs", params={"queue": queue_name, "limit": 1}, headers=auth(BETA)).json()
    assert [j["id"] for j in page["jobs"]] == [beta_job]
    # the history part (jobs Redis no longer holds)
    everything = {key: listed_all(http, key) for key in (PLAIN, ACME, BETA, ADMIN)}
    assert acme_archived in everything[ACME] and acme_archived in everything[ADMIN]
    assert beta_archived in everything[BETA] and default_archived in everything[PLAIN]
    for key, foreign in ((BETA, {acme_archived, default_archived, *acme_jobs}),
                         (ACME, {beta_archived, default_archived, beta_job}),
                         (PLAIN, {acme_archived, beta_archived, beta_job, *acme_jobs})):
        assert not foreign & set(everything[key]), key
    assert {acme_archived, beta_archived, default_archived} <= set(everything[ADMIN])


def listed_all(http: httpx.Client, key: str) -> list[str]:
    """Every id `GET /jobs` pages through for `key` (bounded)."""
    ids: list[str] = []
    params: dict[str, Any] = {"limit": 500}
    for _ in range(20):
        body = http.get("/jobs", params=params, headers=auth(key)).json()
        ids += [j["id"] for j in body["jobs"]]
        if not body["next_before"] or not body["jobs"]:
            return ids
        params["before"] = body["next_before"]
    return ids


def test_unnamed_keys_are_the_default_tenant(http: httpx.Client, queue_name: str) -> None:
    job = submit(http, PLAIN, queue_name)
    assert "tenant" not in job  # the record of a default-tenant job is as before tenants
    assert http.get(f"/jobs/{job['id']}", headers=auth(PLAIN)).status_code == 200
    assert http.get(f"/jobs/{job['id']}", headers=auth(ACME)).status_code == 404
    assert http.get(f"/jobs/{job['id']}", headers=auth(ADMIN)).status_code == 200
    mine = submit(http, ACME, queue_name)
    assert mine["tenant"] == "acme"
    assert http.get(f"/jobs/{mine['id']}", headers=auth(PLAIN)).status_code == 404


def test_an_admin_key_creates_default_jobs_and_acts_on_any(
    http: httpx.Client, queue_name: str
) -> None:
    acme = submit(http, ACME, queue_name)["id"]
    assert http.post(f"/jobs/{acme}/cancel", headers=auth(ADMIN)).status_code == 202
    retried = http.post(f"/jobs/{acme}/retry", headers=auth(ADMIN))
    assert retried.status_code == 202 and retried.json()["tenant"] == "acme"  # a retry keeps it
    assert http.get(f"/jobs/{acme}", headers=auth(ACME)).json()["status"] == "queued"
    own = submit(http, ADMIN, queue_name)
    assert "tenant" not in own and http.get(f"/jobs/{own['id']}",
                                            headers=auth(PLAIN)).status_code == 200


def test_idempotency_keys_are_per_tenant(http: httpx.Client, queue_name: str) -> None:
    key = f"idem-{uuid.uuid4().hex[:6]}"
    a1 = submit(http, ACME, queue_name, idempotency_key=key)
    a2 = submit(http, ACME, queue_name, idempotency_key=key)
    b = submit(http, BETA, queue_name, idempotency_key=key)
    d = submit(http, PLAIN, queue_name, idempotency_key=key)
    assert a1["id"] == a2["id"]
    assert len({a1["id"], b["id"], d["id"]}) == 3  # never another tenant's job
    assert (b.get("tenant"), d.get("tenant")) == ("beta", None)


def test_webhook_jobs_belong_to_the_mapped_tenant_or_default(http: httpx.Client) -> None:
    shop = http.post("/webhooks/shop", json={"order": 1}).json()["id"]
    other = http.post("/webhooks/other", json={"order": 2}).json()["id"]
    assert http.get(f"/jobs/{shop}", headers=auth(ACME)).json()["tenant"] == "acme"
    assert http.get(f"/jobs/{shop}", headers=auth(PLAIN)).status_code == 404
    assert http.get(f"/jobs/{other}", headers=auth(PLAIN)).status_code == 200
    assert http.get(f"/jobs/{other}", headers=auth(ACME)).status_code == 404


def test_queue_counts_per_tenant(http: httpx.Client, queue_name: str) -> None:
    for _ in range(2):
        submit(http, BETA, queue_name)
    for _ in range(3):
        submit(http, ACME, queue_name)

    def tenants(key: str | None) -> dict[str, dict[str, Any]]:
        r = http.get("/queues", headers=auth(key) if key else {})
        assert r.status_code == 200, r.text
        return {row["tenant"]: row for row in r.json()["tenants"]}

    admin = tenants(ADMIN)
    assert {"acme", "beta"} <= admin.keys() and len(admin) <= 10
    assert admin["acme"]["queued"] >= 3 and admin["beta"]["queued"] >= 2
    assert admin["acme"]["estimated"] is False
    beta = tenants(BETA)
    assert beta.keys() == {"beta"} and beta["beta"] == admin["beta"]
    assert tenants(PLAIN).keys() == {"default"}
    assert tenants(None) == {}  # the counts per queue need no key; per tenant they do
    assert tenants("wrong-key") == {}


def test_running_jobs_per_tenant_and_workers_show_only_own_jobs(
    http: httpx.Client, module_dir: Path, api_env: dict[str, str], history: History
) -> None:
    proc: subprocess.Popen[bytes] = start_worker(module_dir / "worker", api_env,
                                                 "--concurrency", "2")
    try:
        job = http.post("/jobs", json={"type": "sleep", "payload": {"seconds": 3, "steps": 3}},
                        headers=auth(ACME)).json()

        def running(key: str) -> dict[str, Any] | None:
            rows = http.get("/queues", headers=auth(key)).json()["tenants"]
            return next((r for r in rows if r["tenant"] == "acme" and r["running"]), None)

        assert wait_for(lambda: running(ADMIN), timeout_s=15)["running"] == 1
        assert running(ACME)["running"] == 1
        (beta,) = http.get("/queues", headers=auth(BETA)).json()["tenants"]
        assert (beta["tenant"], beta["running"]) == ("beta", 0)

        def jobs_on_workers(key: str) -> list[str]:
            return [j for w in http.get("/workers", headers=auth(key)).json()["workers"]
                    for j in w["jobs"]]

        wait_for(lambda: job["id"] in jobs_on_workers(ADMIN), timeout_s=10)  # next heartbeat
        assert job["id"] in jobs_on_workers(ACME)
        assert job["id"] not in jobs_on_workers(BETA)
        done = wait_for(lambda: (r := http.get(f"/jobs/{job['id']}", headers=auth(ACME)).json())
                        and r["status"] == "succeeded" and r, timeout_s=20)
        assert done["tenant"] == "acme"  # the worker's records keep it
        # archived with its tenant
        wait_for(lambda: history.get(job["id"]), timeout_s=20)
        assert history.get(job["id"])["tenant"] == "acme"
    finally:
        stop_process(proc, grace_s=10)


def test_history_stats_count_the_keys_tenant_only(http: httpx.Client, history: History) -> None:
    def ended(key: str) -> int:
        body = http.get("/history/stats", headers=auth(key)).json()
        return sum(v for row in body["per_hour"] for k, v in row.items() if k != "hour")

    before = {key: ended(key) for key in (ACME, BETA, PLAIN, ADMIN)}
    archive_only(history, "acme", "failed")
    archive_only(history, "acme", "failed")
    archive_only(history, None, "failed")
    after = {key: ended(key) for key in (ACME, BETA, PLAIN, ADMIN)}
    assert after[ACME] - before[ACME] == 2
    assert after[BETA] == before[BETA]
    assert after[PLAIN] - before[PLAIN] == 1
    assert after[ADMIN] - before[ADMIN] == 3


def test_a_record_written_before_tenants_is_the_default_tenants(
    http: httpx.Client, history: History
) -> None:
    record = make_record(Envelope(id=new_id(), type="echo", queue="old"), Status.SUCCEEDED,
                         finished_at=time.time())
    assert "tenant" not in record
    history.archive_jobs([job_row(record, 1)])
    assert http.get(f"/jobs/{record['id']}", headers=auth(PLAIN)).status_code == 200
    assert http.get(f"/jobs/{record['id']}", headers=auth(BETA)).status_code == 404


def test_a_tenants_jobs_share_under_its_concurrency_keys(
        http: httpx.Client, queue_name: str) -> None:
    plain = submit(http, ACME, queue_name)
    assert plain["concurrency_key"] == "acme"  # the tenant, by default
    named = submit(http, ACME, queue_name, concurrency_key="reports")
    assert named["concurrency_key"] == "acme/reports"  # within the tenant's own names
    own = submit(http, PLAIN, queue_name, concurrency_key="batch")
    assert own["concurrency_key"] == "batch"
    bad = http.post("/jobs", json={"type": "echo", "queue": queue_name,
                                   "concurrency_key": "a:b"}, headers=auth(ACME))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body",
                                                                         "concurrency_key"]
    keys = {r["key"]: r["queued"] for r in http.get("/queues", headers=auth(ADMIN)).json()["keys"]}
    assert keys["acme"] >= 1 and keys["acme/reports"] >= 1 and keys["batch"] >= 1
    mine = {r["key"] for r in http.get("/queues", headers=auth(ACME)).json()["keys"]}
    assert mine and all(k == "acme" or k.startswith("acme/") for k in mine)
    assert http.get("/queues").json()["keys"] == []
