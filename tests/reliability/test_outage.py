"""Outage: Redis (append-only) stopped for 5 s under load, then started on the same port.

Meanwhile the API answers 503 with Retry-After (never a 500, never a hang); the workers
reconnect by themselves; every job whose `POST /jobs` got a 202 ends `succeeded`.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from tests.support import ValkeyServer

from .conftest import report, size

OUTAGE_S = 5.0
SUBMITTERS = 5
POLLERS = 5


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_redis_down_for_five_seconds_under_load(fleet, api_factory) -> None:
    server = ValkeyServer(appendonly=True).start()
    try:
        await _scenario(server, fleet, api_factory)
    finally:
        server.cleanup()


async def _scenario(server: ValkeyServer, fleet, api_factory) -> None:
    ns = f"t{uuid.uuid4().hex[:8]}"
    api = api_factory(server.url, ns)
    workers = [fleet(url=server.url, ns=ns, concurrency=4) for _ in range(4)]
    accepted: list[str] = []
    codes: dict[str, dict[int, int]] = {"POST": {}, "GET": {}}
    bad: list[str] = []            # anything but 2xx/503-with-Retry-After, and transport errors
    down = asyncio.Event()
    stop = asyncio.Event()
    during: dict[int, int] = {}
    slow_503: list[float] = []

    def note(method: str, r: httpx.Response, took: float) -> None:
        codes[method][r.status_code] = codes[method].get(r.status_code, 0) + 1
        if down.is_set():
            during[r.status_code] = during.get(r.status_code, 0) + 1
        if r.status_code == 503:
            if not r.headers.get("retry-after", "").isdigit() or int(r.headers["retry-after"]) < 1:
                bad.append(f"503 without Retry-After: {r.headers}")
            if took > 3.0:
                slow_503.append(took)
        elif r.status_code not in (200, 202):
            bad.append(f"{method} {r.status_code}: {r.text[:200]}")

    async def submitter(http: httpx.AsyncClient) -> None:
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                r = await http.post("/jobs", json={"type": "sleep", "payload": {"seconds": 0.3, "steps": 3}})
            except httpx.HTTPError as exc:
                bad.append(f"POST transport error: {exc!r}")
                await asyncio.sleep(0.2)
                continue
            note("POST", r, time.monotonic() - t0)
            if r.status_code == 202:
                accepted.append(r.json()["id"])
            await asyncio.sleep(0.05)

    async def poller(http: httpx.AsyncClient) -> None:
        while not stop.is_set():
            if not accepted:
                await asyncio.sleep(0.05)
                continue
            t0 = time.monotonic()
            try:
                r = await http.get(f"/jobs/{accepted[len(accepted) // 2]}")
            except httpx.HTTPError as exc:
                bad.append(f"GET transport error: {exc!r}")
                await asyncio.sleep(0.2)
                continue
            note("GET", r, time.monotonic() - t0)
            await asyncio.sleep(0.05)

    async with httpx.AsyncClient(base_url=api.url, timeout=15) as http:
        tasks = [asyncio.create_task(submitter(http)) for _ in range(SUBMITTERS)]
        tasks += [asyncio.create_task(poller(http)) for _ in range(POLLERS)]
        await asyncio.sleep(3)
        before = len(accepted)
        server.stop()
        down.set()
        stopped_at = time.monotonic()
        await asyncio.sleep(OUTAGE_S)
        down.clear()
        server.start()
        outage = time.monotonic() - stopped_at
        restarted = time.monotonic()
        # Keep submitting until the API accepts again, and a little longer.
        first_ok = None
        while time.monotonic() - restarted < 30:
            if first_ok is None and len(accepted) > before and codes["POST"].get(202, 0):
                n = len(accepted)
                await asyncio.sleep(0.2)
                if len(accepted) > n:
                    first_ok = time.monotonic() - restarted
                    break
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)
        stop.set()
        await asyncio.gather(*tasks)

        # Every accepted job ends succeeded (bounded wait).
        deadline = time.monotonic() + size(60, 120)
        pending = set(accepted)
        records: dict[str, dict] = {}
        while pending and time.monotonic() < deadline:
            for job_id in list(pending):
                r = await http.get(f"/jobs/{job_id}")
                if r.status_code == 200 and r.json()["status"] in ("succeeded", "failed", "cancelled"):
                    records[job_id] = r.json()
                    pending.discard(job_id)
            if pending:
                await asyncio.sleep(0.5)
        live = (await http.get("/workers")).json()["workers"]

    statuses: dict[str, int] = {}
    for rec in records.values():
        statuses[rec["status"]] = statuses.get(rec["status"], 0) + 1
    failed = [r for r in records.values() if r["status"] != "succeeded"]
    attempts = {}
    for rec in records.values():
        attempts[rec["attempt"]] = attempts.get(rec["attempt"], 0) + 1
    report("outage", outage_s=outage, accepted=len(accepted), post_codes=codes["POST"],
           get_codes=codes["GET"], codes_while_down=during, bad=len(bad),
           api_back_after_s=first_ok, statuses=statuses, lost=len(pending) + len(failed),
           stuck=len(pending), attempts=attempts, workers_alive=sum(w.proc.poll() is None for w in workers),
           workers_registered=len(live))

    assert not bad, bad[:10]
    assert during.get(503, 0) > 0, "no request saw the outage"
    assert not slow_503, f"503 answers took too long: {slow_503[:5]}"
    assert first_ok is not None, "the API did not accept jobs again within 30 s of the restart"
    assert not pending, f"{len(pending)} accepted jobs never finished"
    assert not failed, [(r["id"], r["attempt"], r["error"]) for r in failed[:5]]
    assert all(w.proc.poll() is None for w in workers), "a worker died instead of reconnecting"
    assert len(live) == len(workers)
