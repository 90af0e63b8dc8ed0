"""Load: 200 concurrent pollers on `GET /jobs/{id}` and 20 submitters on `POST /jobs`,
against one API process (uvicorn) and 4 workers: zero 5xx, p50/p99 of both reported,
every submitted job finished."""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid

import httpx
import pytest

from .conftest import percentile, report, size

POLLERS = 200
SUBMITTERS = 20


@pytest.mark.slow
@pytest.mark.timeout(400)
async def test_200_pollers_and_20_submitters(redis_url: str, fleet, api_factory) -> None:
    duration = size(15, 60)
    ns = f"t{uuid.uuid4().hex[:8]}"
    api = api_factory(redis_url, ns)
    workers = [fleet(ns=ns, concurrency=8) for _ in range(4)]
    ids: list[str] = []
    lat: dict[str, list[float]] = {"POST": [], "GET": []}
    codes: dict[str, dict[int, int]] = {"POST": {}, "GET": {}}
    errors: list[str] = []
    stop = asyncio.Event()
    rng = random.Random(3)

    def note(method: str, r: httpx.Response, took: float) -> None:
        lat[method].append(took)
        codes[method][r.status_code] = codes[method].get(r.status_code, 0) + 1

    async def submitter(http: httpx.AsyncClient, n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            t0 = time.perf_counter()
            try:
                r = await http.post("/jobs", json={"type": "add", "payload": {"x": n, "y": i}})
            except httpx.HTTPError as exc:
                errors.append(f"POST {exc!r}")
                continue
            note("POST", r, time.perf_counter() - t0)
            if r.status_code == 202:
                ids.append(r.json()["id"])

    async def poller(http: httpx.AsyncClient) -> None:
        while not stop.is_set():
            if not ids:
                await asyncio.sleep(0.01)
                continue
            t0 = time.perf_counter()
            try:
                r = await http.get(f"/jobs/{rng.choice(ids)}")
            except httpx.HTTPError as exc:
                errors.append(f"GET {exc!r}")
                continue
            note("GET", r, time.perf_counter() - t0)

    limits = httpx.Limits(max_connections=POLLERS + SUBMITTERS, max_keepalive_connections=POLLERS + SUBMITTERS)
    async with httpx.AsyncClient(base_url=api.url, timeout=30, limits=limits) as http:
        tasks = [asyncio.create_task(submitter(http, n)) for n in range(SUBMITTERS)]
        tasks += [asyncio.create_task(poller(http)) for _ in range(POLLERS)]
        await asyncio.sleep(duration)
        stop.set()
        await asyncio.gather(*tasks)

        deadline = time.monotonic() + 90
        pending = set(ids)
        while pending and time.monotonic() < deadline:
            batch = list(pending)[:500]
            for job_id in batch:
                r = await http.get(f"/jobs/{job_id}")
                if r.status_code == 200 and r.json()["status"] == "succeeded":
                    pending.discard(job_id)
            if pending:
                await asyncio.sleep(0.5)
        metrics = (await http.get("/metrics")).text

    server = {m: server_p99_ms(metrics, m, route) for m, route in
              (("POST", "/jobs"), ("GET", "/jobs/{job_id}"))}
    server_5xx = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                     if line.startswith("agentq_http_requests_total") and 'status="5' in line)
    five = {m: sum(n for c, n in codes[m].items() if c >= 500) for m in codes}
    report("load", seconds=duration, pollers=POLLERS, submitters=SUBMITTERS, workers=len(workers),
           posts=len(lat["POST"]), gets=len(lat["GET"]),
           post_rps=len(lat["POST"]) / duration, get_rps=len(lat["GET"]) / duration,
           post_p50_ms=percentile(lat["POST"], 50) * 1000, post_p99_ms=percentile(lat["POST"], 99) * 1000,
           get_p50_ms=percentile(lat["GET"], 50) * 1000, get_p99_ms=percentile(lat["GET"], 99) * 1000,
           server_p99_ms_at_most=server, codes=codes, five_xx=five, server_5xx=server_5xx, transport_errors=len(errors), unfinished=len(pending))
    assert not errors, errors[:5]
    assert five == {"POST": 0, "GET": 0}, codes
    assert server_5xx == 0
    assert set(codes["POST"]) == {202} and set(codes["GET"]) == {200}, codes
    assert not pending, f"{len(pending)} accepted jobs did not finish"
    assert all(w.proc.poll() is None for w in workers)


def server_p99_ms(metrics: str, method: str, route: str) -> float | None:
    """The upper bound of the histogram bucket holding the API's own 99th percentile."""
    buckets = []
    for line in metrics.splitlines():
        if not line.startswith("agentq_http_request_duration_seconds_bucket{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
        if labels.get("method") == method and labels.get("route") == route:
            le = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
            buckets.append((le, float(line.rsplit(" ", 1)[1])))
    if not buckets:
        return None
    buckets.sort()
    total = buckets[-1][1]
    for le, count in buckets:
        if total and count >= 0.99 * total:
            return le * 1000
    return None


class FalseOutage(AssertionError):
    """The API answered 503 while Redis was up."""


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_more_concurrent_requests_than_pool_connections_wait_instead_of_503(api_factory) -> None:
    """Deterministic form of what the load test can hit: Redis stalls for a second (a slow
    command, a fork for a snapshot) while 150 requests are in flight."""
    from tests.support import ValkeyServer

    server = ValkeyServer(extra=["--enable-debug-command", "yes"]).start()
    try:
        api = api_factory(server.url, f"t{uuid.uuid4().hex[:8]}")
        job = api.http.post("/jobs", json={"type": "add", "payload": {"x": 1, "y": 1}, "queue": "idle"}).json()
        import redis.asyncio as aioredis

        stall = aioredis.Redis.from_url(server.url)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=api.url, timeout=30, limits=limits) as http:
            sleeper = asyncio.create_task(stall.execute_command("DEBUG", "SLEEP", "1.5"))
            await asyncio.sleep(0.2)
            answers = await asyncio.gather(*[http.get(f"/jobs/{job['id']}") for _ in range(150)])
            await sleeper
        await stall.aclose()
        codes: dict[int, int] = {}
        for r in answers:
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
        report("load-pool-limit", concurrent=150, codes=codes)
        if codes.get(503):
            raise FalseOutage(f"503 while Redis was up: {codes}")
        assert codes == {200: 150}, codes
    finally:
        server.cleanup()
