"""Retries and requeues sent at once start a job exactly once more, and a retried job keeps
the options it was submitted with (over HTTP, with a real worker)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from src.queue import Client
from tests.api.support import Server, wait_status


def _running_count(client: Client, job_id: str) -> int:
    async def count() -> int:
        return sum(1 for _, e in await client.events(job_id)
                   if e["type"] == "status" and e["status"] == "running")
    return asyncio.run(count())


def _client(api: Server) -> Client:
    return Client.from_url(api.env["REDIS_URL"], api.namespace)


def _fail_for_good(http: httpx.Client) -> dict[str, Any]:
    job = http.post("/jobs", json={"type": "fail", "payload": {"times": 1000},
                                   "max_attempts": 1}).json()
    return wait_status(http, job["id"], {"failed"})


@pytest.mark.usefixtures("worker")
def test_twenty_simultaneous_retries_run_a_failed_job_once_more(
    api: Server, http: httpx.Client
) -> None:
    job = _fail_for_good(http)

    def retry(_: int) -> int:
        with httpx.Client(base_url=api.url, timeout=30) as h:
            return h.post(f"/jobs/{job['id']}/retry").status_code

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(retry, range(20)))
    assert sorted(codes) == [202] + [409] * 19
    wait_status(http, job["id"], {"failed"})
    # wait past the retry guard, and let any extra run that was let through show up
    asyncio.run(asyncio.sleep(2.5))
    assert _running_count(_client(api), job["id"]) == 2


@pytest.mark.usefixtures("worker")
def test_twenty_simultaneous_requeues_of_a_dead_job_run_it_once_more(
    api: Server, http: httpx.Client
) -> None:
    job = _fail_for_good(http)

    async def requeue_all() -> list[int]:
        clients = [_client(api) for _ in range(20)]
        try:
            return await asyncio.gather(*(c.requeue_dead([job["id"]]) for c in clients))
        finally:
            for c in clients:
                await c.close()

    assert sum(asyncio.run(requeue_all())) == 1
    wait_status(http, job["id"], {"failed"})
    asyncio.run(asyncio.sleep(1.0))
    assert _running_count(_client(api), job["id"]) == 2


@pytest.mark.usefixtures("worker")
def test_a_retried_job_keeps_its_timeout(http: httpx.Client) -> None:
    job = http.post("/jobs", json={"type": "sleep", "payload": {"seconds": 5, "steps": 5},
                                   "timeout_s": 1, "max_attempts": 1}).json()
    failed = wait_status(http, job["id"], {"failed", "succeeded"}, timeout_s=10)
    assert failed["status"] == "failed" and failed["error"]["type"] == "timeout"
    assert http.post(f"/jobs/{job['id']}/retry").status_code == 202
    again = wait_status(http, job["id"], {"failed", "succeeded"}, timeout_s=10)
    assert again["status"] == "failed" and again["error"]["type"] == "timeout", again
