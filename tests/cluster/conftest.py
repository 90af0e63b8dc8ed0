"""A real three-primary Valkey Cluster, built from the embedded server binary.

Each node is a `valkey-server --cluster-enabled yes` on a free port (its cluster bus on
port + 10000 must be free too) with its own nodes.conf in a temporary directory. The
16384 slots are split with `valkey-cli --cluster create`; the fixture waits (bounded)
until every node reports `cluster_state:ok` and agrees on the slot map, and stops every
server by its PID afterwards.
"""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ..support import VALKEY_BIN, WorkerProcess

PRIMARIES = 3
STARTUP_TIMEOUT_S = 20.0


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports(n: int) -> list[int]:
    """n ports that are free, each with its cluster bus port (+10000) free as well."""
    ports: list[int] = []
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 < 65536 and port not in ports and _port_free(port + 10000):
            ports.append(port)
            if len(ports) == n:
                return ports
    raise RuntimeError("could not find free ports for the cluster nodes")


def _cli(port: int, *args: str, timeout: float = 5.0) -> str:
    cli = VALKEY_BIN.with_name("valkey-cli")
    out = subprocess.run(
        [str(cli), "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return out.stdout + out.stderr


@dataclass
class ValkeyCluster:
    ports: list[int]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """A URL naming one node; a cluster client discovers the others from it."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    @property
    def env(self) -> dict[str, str]:
        """What a worker or the API needs to talk to this cluster."""
        return {"REDIS_URL": self.url, "AGENTQ_REDIS_CLUSTER": "1"}

    def info(self, port: int) -> str:
        return _cli(port, "CLUSTER", "INFO")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def _start_cluster(tmp: Path) -> ValkeyCluster:
    server = VALKEY_BIN
    cluster = ValkeyCluster(_free_ports(PRIMARIES))
    try:
        for i, port in enumerate(cluster.ports):
            node_dir = tmp / f"node-{i}"
            node_dir.mkdir()
            cluster.procs.append(
                subprocess.Popen(
                    [
                        str(server),
                        "--port", str(port),
                        "--bind", "127.0.0.1",
                        "--dir", str(node_dir),
                        "--cluster-enabled", "yes",
                        "--cluster-config-file", str(node_dir / f"nodes-{i}.conf"),
                        "--cluster-node-timeout", "3000",
                        "--save", "",
                        "--appendonly", "no",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        for port in cluster.ports:
            while "PONG" not in _cli(port, "PING"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cluster node on port {port} did not start")
                time.sleep(0.05)

        nodes = [f"127.0.0.1:{p}" for p in cluster.ports]
        created = _cli(
            cluster.ports[0], "--cluster", "create", *nodes,
            "--cluster-replicas", "0", "--cluster-yes",
            timeout=STARTUP_TIMEOUT_S,
        )
        if "[OK] All 16384 slots covered" not in created:
            raise RuntimeError(f"valkey-cli --cluster create failed:\n{created}")

        # Every node must see the whole slot map before clients may rely on redirects.
        while not all(
            "cluster_state:ok" in (info := cluster.info(p)) and "cluster_known_nodes:3" in info
            for p in cluster.ports
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("cluster did not reach cluster_state:ok in time")
            time.sleep(0.1)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.fixture(scope="session")
def valkey_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ValkeyCluster]:
    """A running 3-primary cluster (no replicas), shared by the tests of this folder."""
    cluster = _start_cluster(tmp_path_factory.mktemp("valkey-cluster"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster_namespace() -> str:
    """A namespace of its own per test, so tests share the cluster without flushing."""
    return f"agentq-cl-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def cluster_worker(
    valkey_cluster: ValkeyCluster, cluster_namespace: str, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Factory: `python -m src.worker` against the cluster; all are stopped after."""
    started: list[WorkerProcess] = []

    def start(*args: str, **env: str) -> WorkerProcess:
        worker = WorkerProcess(
            valkey_cluster.url, env.pop("AGENTQ_NAMESPACE", cluster_namespace),
            extra_args=list(args),
            env={"AGENTQ_REDIS_CLUSTER": "1", "AGENTQ_WORKER_TIMEOUT_S": "2",
                 "AGENTQ_SHUTDOWN_GRACE_S": "5", "AGENTQ_RETRY_BASE_S": "0.05",
                 "AGENTQ_RETRY_MAX_S": "0.2", **env},
            log_path=tmp_path / f"worker-{len(started)}.log",
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
