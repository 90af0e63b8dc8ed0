"""Latency of `POST /jobs` and `GET /jobs/{id}`: p50 and p99 over sequential requests.

    .venv/bin/python -m tests.api.latency [--requests 2000] [--url http://127.0.0.1:8000]

Without --url it starts its own Valkey and API process (no worker, so jobs stay queued
and only the API and Redis are measured), and stops them afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from tests.api.support import base_env, start_api, stop_process
from tests.support import ValkeyServer


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(url: str, n: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"POST /jobs": [], "GET /jobs/{id}": []}
    ids = []
    with httpx.Client(base_url=url, timeout=10) as http:
        for _ in range(50):  # warm up the connection and the server
            http.post(
                "/jobs", json={"type": "add", "payload": {"x": 1, "y": 2}, "queue": "latency"}
            )
        for i in range(n):
            start = time.perf_counter()
            r = http.post(
                "/jobs", json={"type": "add", "payload": {"x": i, "y": 2}, "queue": "latency"}
            )
            times["POST /jobs"].append(time.perf_counter() - start)
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
        for job_id in ids:
            start = time.perf_counter()
            r = http.get(f"/jobs/{job_id}")
            times["GET /jobs/{id}"].append(time.perf_counter() - start)
            assert r.status_code == 200, r.text
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--url", default=None, help="an API that is already running")
    args = parser.parse_args()

    valkey = api = None
    try:
        url = args.url
        if url is None:
            valkey = ValkeyServer().start()
            api = start_api(
                Path(tempfile.mkdtemp(prefix="agentq-latency-")),
                base_env(valkey.url, f"lat{uuid.uuid4().hex[:8]}"),
            )
            url = api.url
        results = measure(url, args.requests)
    finally:
        if api is not None:
            api.http.close()
            stop_process(api.proc)
        if valkey is not None:
            valkey.cleanup()

    sys.stdout.write(f"{'endpoint':<16} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}\n")
    for name, samples in results.items():
        sys.stdout.write(
            f"{name:<16} {len(samples):>6} {percentile(samples, 0.5) * 1000:>8.2f} "
            f"{percentile(samples, 0.99) * 1000:>8.2f} {statistics.fmean(samples) * 1000:>8.2f}\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
