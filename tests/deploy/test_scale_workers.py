"""`docker compose up --scale worker=4`, without a container engine.

Four processes are started exactly as compose starts the `worker` service: its
`command` (with `python` being this interpreter) and its `environment` resolved from
compose.yaml's defaults, against one real Valkey. 200 short jobs must spread over all
four, and SIGTERM (what `docker compose stop` sends) must stop every worker well within
the service's `stop_grace_period`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from src.queue import Client

from ._compose import ROOT, load_compose, service_env

REPLICAS = 4
JOBS = 200


def _compose_worker(namespace: str, redis_url: str) -> tuple[list[str], dict[str, str]]:
    service = load_compose()["services"]["worker"]
    command = list(service["command"])
    assert command[0] == "python"
    command[0] = sys.executable
    # `.env` values a deployment would set: its own Redis, and a quicker heartbeat so the
    # test sees all four registered sooner. Everything else keeps compose's defaults.
    env = service_env(service, {"REDIS_URL": redis_url, "AGENTQ_NAMESPACE": namespace,
                                "AGENTQ_HEARTBEAT_S": "0.5"})
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTQ_", "REDIS_"))}
    return command, {**base, **env, "PYTHONUNBUFFERED": "1"}


async def _wait_for_workers(client: Client, n: int, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while len(await client.workers()) < n:
        assert time.monotonic() < deadline, f"fewer than {n} workers registered"
        await asyncio.sleep(0.1)


async def test_jobs_spread_over_four_compose_workers(redis_url, namespace, tmp_path: Path):
    command, env = _compose_worker(namespace, redis_url)
    logs = [tmp_path / f"worker-{i}.log" for i in range(REPLICAS)]
    procs: list[subprocess.Popen[bytes]] = []
    passed = False
    try:
        for log in logs:
            with log.open("wb") as out:
                procs.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,
                                              stderr=subprocess.STDOUT))
        async with Client.from_url(redis_url, namespace=namespace) as client:
            await _wait_for_workers(client, REPLICAS)
            workers = {w["id"]: w["pid"] for w in await client.workers()}
            assert sorted(workers.values()) == sorted(p.pid for p in procs)

            jobs = await client.enqueue_many(
                [{"type": "sleep", "payload": {"seconds": 0.05, "steps": 1}} if i % 2 else
                 {"type": "echo", "payload": {"i": i}} for i in range(JOBS)]
            )
            gate = asyncio.Semaphore(16)  # each wait holds a pooled connection

            async def finished(job_id: str) -> dict | None:
                async with gate:
                    return await client.wait(job_id, timeout_s=60)

            records = await asyncio.gather(*(finished(j.id) for j in jobs))

        assert [r and r["status"] for r in records] == ["succeeded"] * JOBS
        spread = Counter(r["worker"] for r in records)
        shown = " ".join(["python", *command[1:]])
        print(f"\n{JOBS} jobs over {REPLICAS} workers (compose command: {shown}):")
        for worker_id, count in sorted(spread.items()):
            print(f"  {worker_id} (pid {workers.get(worker_id)}): {count} jobs")
        assert set(spread) == set(workers), "every worker must have run some jobs"
        assert min(spread.values()) >= JOBS // (REPLICAS * 5), spread

        # `docker compose stop`: SIGTERM, then SIGKILL after stop_grace_period.
        started = time.monotonic()
        for p in procs:
            p.send_signal(signal.SIGTERM)
        codes = [p.wait(timeout=30) for p in procs]
        took = time.monotonic() - started
        print(f"  all {REPLICAS} stopped on SIGTERM in {took:.1f}s, exit codes {codes}")
        assert codes == [0] * REPLICAS
        passed = True
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=5)
        for log in [] if passed else logs:
            if log.exists() and log.stat().st_size:
                print(f"--- {log.name} (tail)\n{log.read_text(errors='replace')[-1500:]}")
