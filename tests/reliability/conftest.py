"""Fixtures of the reliability suite: fleets of real worker processes with fast timings,
the API as a uvicorn process, and a place to print each scenario's figures.

Sizes: the default run is scaled to fit a few minutes on two cores; set
`AGENTQ_RELIABILITY_FULL=1` for the sizes of the issue (1,000 chaos jobs, 60 s of load, ...).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.support import Server, base_env, start_api, stop_process
from tests.support import ROOT, WorkerProcess

FULL = os.environ.get("AGENTQ_RELIABILITY_FULL", "") not in ("", "0")
TASKS = "tests.reliability.tasks"

#: Worker timings of the whole suite: a silent worker is dead after 2 s.
FAST = {
    "AGENTQ_HEARTBEAT_S": "0.5",
    "AGENTQ_WORKER_TIMEOUT_S": "2",
    "AGENTQ_RETRY_BASE_S": "0.1",
    "AGENTQ_RETRY_MAX_S": "1",
    "AGENTQ_SHUTDOWN_GRACE_S": "10",
}

_FIGURES: list[str] = []


def size(default: int, full: int) -> int:
    return full if FULL else default


def report(scenario: str, **figures: Any) -> str:
    """Print one scenario's figures (shown with -s, and with the captured output on failure)."""
    line = f"[{scenario}] " + " ".join(f"{k}={_fmt(v)}" for k, v in figures.items())
    print(line, flush=True)
    _FIGURES.append(line)
    return line


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _FIGURES:
        terminalreporter.section("agentq reliability figures" + (" (full size)" if FULL else ""))
        for line in _FIGURES:
            terminalreporter.write_line(line)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


@pytest.fixture
def fleet(redis_url: str, namespace: str) -> Iterator[Callable[..., WorkerProcess]]:
    """Factory: worker processes with the suite's timings and task module; all stopped at the end."""
    started: list[WorkerProcess] = []

    def spawn(*, url: str | None = None, ns: str | None = None, concurrency: int = 4,
              env: dict[str, str] | None = None, args: list[str] | None = None,
              tasks: tuple[str, ...] = ()) -> WorkerProcess:
        w = WorkerProcess(url or redis_url, ns or namespace, concurrency=concurrency,
                          extra_args=["--tasks", ",".join((TASKS, *tasks)), *(args or [])],
                          env={**FAST, "PYTHONPATH": str(ROOT), **(env or {})})
        started.append(w)
        return w

    yield spawn
    for w in started:
        if w.proc.poll() is None:
            w.kill()
        w.stop(timeout=5)


@pytest.fixture
def api_factory(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Factory: the API as a uvicorn process on a free port; all stopped at the end."""
    servers: list[Server] = []

    def start(redis_url: str, namespace: str, **extra: str) -> Server:
        env = base_env(redis_url, namespace, **FAST, PYTHONPATH=str(ROOT), **extra)
        server = start_api(tmp_path / f"api-{uuid.uuid4().hex[:6]}", env)
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.http.close()
        stop_process(s.proc)
