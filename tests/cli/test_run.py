"""`make run` (`python -m src.run`): embedded Redis when none answers, the API, the workers,
and a clean stop of all of them on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.api.support import FAST_ENV, ROOT, free_port, wait_for


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    api: str
    redis_port: int
    log: Path
    data: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_run(
    tmp_path: Path, redis_url: str, workers: int = 1, env: dict[str, str] | None = None
) -> Run:
    """`python -m src.run` on `redis_url`, up once `workers` workers are ready; `env` adds to
    (and overrides) the environment it is given."""
    api_port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AGENTQ_")}
    environ.update(FAST_ENV)
    environ.update(
        REDIS_URL=redis_url,
        PORT=str(api_port),
        WORKERS=str(workers),
        AGENTQ_NAMESPACE=f"run{api_port}",
        AGENTQ_DATA_DIR=str(tmp_path / "data"),
    )
    environ.update(env or {})
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "src.run"],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    run = Run(
        proc,
        f"http://127.0.0.1:{api_port}",
        int(redis_url.rsplit(":", 1)[1].split("/")[0]),
        log,
        tmp_path / "data",
    )
    try:
        wait_for(
            lambda: _ready_workers(run.api) >= workers or proc.poll() is not None,
            timeout_s=40,
            interval_s=0.2,
        )
    except AssertionError:
        stop(run)
        raise AssertionError(f"make run did not come up:\n{run.output()}") from None
    assert proc.poll() is None, run.output()
    return run


def _ready_workers(api: str) -> int:
    try:
        r = httpx.get(f"{api}/ready", timeout=1)
    except httpx.HTTPError:
        return -1
    return r.json().get("workers") or 0 if r.status_code == 200 else -1


def stop(run: Run) -> int:
    if run.proc.poll() is None:
        run.proc.send_signal(signal.SIGINT)
        try:
            run.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            run.proc.kill()
            run.proc.wait(5)
    return run.proc.returncode


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Run]:
    run = start_run(tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    yield run
    stop(run)


def test_starts_embedded_redis_api_and_workers_and_stops_them_on_ctrl_c(embedded: Run) -> None:
    output = embedded.output()
    assert "started valkey-server" in output or "started redis-server" in output
    assert f"{embedded.api}/" in output
    r = httpx.post(
        f"{embedded.api}/jobs",
        params={"wait": 20},
        json={"type": "add", "payload": {"x": 2, "y": 2}},
        timeout=30,
    )
    assert r.status_code == 200 and r.json()["result"] == 4
    assert (embedded.data / "appendonlydir").is_dir()  # append-only persistence is on

    start = time.monotonic()
    assert stop(embedded) == 0
    assert time.monotonic() - start < 20
    assert not listening(embedded.redis_port)
    assert not listening(int(embedded.api.rsplit(":", 1)[1]))
    assert "stopping" in embedded.output()


def test_a_dead_worker_is_reported(embedded: Run) -> None:
    workers = httpx.get(f"{embedded.api}/workers", timeout=5).json()["workers"]
    os.kill(workers[0]["pid"], signal.SIGKILL)
    wait_for(lambda: "exited with code -9" in embedded.output(), timeout_s=10)
    assert embedded.proc.poll() is None  # the API keeps serving
    assert httpx.get(f"{embedded.api}/health", timeout=5).status_code == 200


def test_uses_a_redis_that_already_answers(tmp_path: Path, redis_url: str) -> None:
    run = start_run(tmp_path, redis_url)
    try:
        assert f"using the Redis at {redis_url}" in run.output()
        assert not (run.data / "appendonlydir").exists()
    finally:
        assert stop(run) == 0
    assert listening(run.redis_port)  # not ours to stop


def test_an_embedded_redis_with_a_password_never_shows_it_on_a_command_line(
    tmp_path: Path,
) -> None:
    """The password of REDIS_URL reaches the embedded server on its standard input: no
    process's command line (what `ps` shows every local user) holds it; it is enforced;
    a percent-encoded password is decoded as redis-py decodes it."""
    password = 'pa ss"w\\rd'
    encoded = "pa%20ss%22w%5Crd"
    port = free_port()
    run = start_run(tmp_path, f"redis://:{encoded}@127.0.0.1:{port}/0")
    try:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            assert password.encode() not in cmdline and encoded.encode() not in cmdline
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"PING\r\n")
            assert s.recv(100).startswith(b"-NOAUTH")
        r = httpx.post(f"{run.api}/jobs", params={"wait": 20},
                       json={"type": "add", "payload": {"x": 1, "y": 2}}, timeout=30)
        assert r.status_code == 200 and r.json()["result"] == 3
    finally:
        assert stop(run) == 0
