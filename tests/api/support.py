"""Support for the HTTP tests: a uvicorn API process, worker processes, bounded waits.

Every process listens on 127.0.0.1 on a free port, runs in a temporary directory (so no
`.env` leaks in) and is stopped by its PID; every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
STARTUP_TIMEOUT_S = 20.0

#: Fast timings for tests: heartbeats, recovery and retry back-off in (fractions of) seconds.
FAST_ENV = {
    "AGENTQ_HEARTBEAT_S": "0.5",
    "AGENTQ_WORKER_TIMEOUT_S": "5",
    "AGENTQ_RETRY_BASE_S": "0.05",
    "AGENTQ_RETRY_MAX_S": "0.5",
    "AGENTQ_SHUTDOWN_GRACE_S": "2",
    "AGENTQ_CALLBACK_ALLOW": "127.0.0.1",
    "AGENTQ_CALLBACK_BACKOFF_S": "0.05",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """SIGTERM, a bounded wait, then SIGKILL: never leaves the process behind."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _log_tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


@dataclass
class Server:
    """A uvicorn process serving `src.api.app:app`, and an httpx client for it."""

    url: str
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log: Path
    http: httpx.Client

    @property
    def namespace(self) -> str:
        return self.env["AGENTQ_NAMESPACE"]

    def log_tail(self) -> str:
        return _log_tail(self.log)


def base_env(redis_url: str, namespace: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTQ_", "LLM_"))}
    env.update(FAST_ENV)
    # PYTHONPATH: the processes import this checkout's `src` (not another editable install's)
    env.update(REDIS_URL=redis_url, AGENTQ_NAMESPACE=namespace, PYTHONUNBUFFERED="1",
               PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def start_api(workdir: Path, env: dict[str, str]) -> Server:
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = workdir / f"api-{port}.log"
    log = open(log_path, "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "uvicorn",
            "src.api.app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
        env=env,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        try:
            if httpx.get(url + "/health", timeout=0.5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise RuntimeError(f"the API did not start:\n{_log_tail(log_path)}")
        time.sleep(0.1)
    return Server(url, env, proc, log_path, httpx.Client(base_url=url, timeout=30))


def start_worker(workdir: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    workdir.mkdir(parents=True, exist_ok=True)
    log = open(workdir / f"worker-{uuid.uuid4().hex[:6]}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [PYTHON, "-m", "src.worker", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
        env=env,
    )
    log.close()
    return proc


def wait_for(
    predicate: Callable[[], Any], timeout_s: float = 15.0, interval_s: float = 0.05
) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s (last value: {value!r})")
        time.sleep(interval_s)


def wait_status(
    http: httpx.Client, job_id: str, statuses: set[str], timeout_s: float = 15.0
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        record = http.get(f"/jobs/{job_id}").json()
        return record if record.get("status") in statuses else None

    return wait_for(check, timeout_s)
