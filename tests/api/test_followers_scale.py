"""1,000 event streams against one API process (a real uvicorn, a real worker, its own
Valkey): every stream completes, the API's Redis connections stay bounded (the event hub
reads for all of them), and `GET /jobs/{id}` keeps its normal latency meanwhile."""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.api.support import Server, base_env, start_worker, stop_process
from tests.support import ValkeyServer, redis_connections

pytestmark = pytest.mark.slow

STREAMS = 1_000
JOBS = 20
JOB_S, JOB_STEPS = 8.0, 16
#: Redis connections one API process may hold, whatever the number of streams.
API_CONNECTIONS_MAX = 16
GET_P99_MAX_S = 0.250


@pytest.fixture(scope="module")
def own_valkey() -> Iterator[ValkeyServer]:
    server = ValkeyServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def api_env(own_valkey: ValkeyServer) -> dict[str, str]:
    return base_env(own_valkey.url, f"t{uuid.uuid4().hex[:10]}")


@pytest.fixture(scope="module")
def worker_proc(module_dir: Path, api_env: dict[str, str]) -> Iterator[Any]:
    proc = start_worker(module_dir / "worker", api_env, "--concurrency", str(JOBS))
    yield proc
    stop_process(proc, grace_s=10)


@dataclass
class Stream:
    status: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    ended: bool = False
    error: str | None = None


async def follow(port: int, job_id: str, out: Stream) -> None:
    """Read one event stream to its end over a raw socket (chunked HTTP/1.1)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        writer.write(f"GET /jobs/{job_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Accept: text/event-stream\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        out.status = int(head[9:12])
        assert b"transfer-encoding: chunked" in head.lower(), head
        buffer = b""
        while True:
            size = int((await reader.readline()).strip(), 16)
            if size == 0:
                await reader.readline()
                out.ended = True
                break
            buffer += (await reader.readexactly(size + 2))[:-2]
            *blocks, buffer = buffer.split(b"\n\n")
            for block in blocks:
                for line in block.split(b"\n"):
                    if line.startswith(b"data: "):
                        out.events.append(json.loads(line[6:]))
        writer.close()
    except Exception as exc:  # noqa: BLE001 - reported per stream below
        out.error = repr(exc)


class Sampler(threading.Thread):
    """Every 50 ms: INFO clients, and the connections of the API and worker processes."""

    def __init__(self, url: str, port: int, api_pid: int, worker_pid: int) -> None:
        super().__init__(daemon=True)
        self.redis = redis.Redis.from_url(url)
        self.port, self.api_pid, self.worker_pid = port, api_pid, worker_pid
        self.samples: list[tuple[int, int, int]] = []  # (connected_clients, api, worker)
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            clients = int(self.redis.info("clients")["connected_clients"])
            self.samples.append((clients, redis_connections(self.api_pid, self.port),
                                 redis_connections(self.worker_pid, self.port)))


_POLLER = """
import json, sys, time, httpx
url, job_id, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
times, at, codes = [], [], {}
with httpx.Client(base_url=url, timeout=10) as http:
    first = time.perf_counter()
    while time.perf_counter() - first < seconds:
        t0 = time.perf_counter()
        r = http.get(f"/jobs/{job_id}")
        times.append(time.perf_counter() - t0)
        at.append(t0 - first)
        codes[r.status_code] = codes.get(r.status_code, 0) + 1
        time.sleep(0.02)
print(json.dumps({"times": times, "at": at, "codes": codes}))
"""


class Poller:
    """`GET /jobs/{id}` every 20 ms for `seconds`, timed, from a process of its own (so
    that this process's own work on the streams does not show in the figures)."""

    def __init__(self, url: str, job_id: str, seconds: float) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _POLLER, url, job_id, str(seconds)],
                                     stdout=subprocess.PIPE)

    def result(self) -> tuple[list[float], dict[int, int]]:
        out, _ = self.proc.communicate(timeout=120)
        data = json.loads(out)
        self.worst = sorted(zip(data["times"], data["at"], strict=True), reverse=True)[:5]
        return data["times"], {int(k): v for k, v in data["codes"].items()}


def p99(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


@pytest.mark.timeout(180)
async def test_a_thousand_streams_on_one_api_process(
    api: Server, worker_proc: Any, own_valkey: ValkeyServer
) -> None:
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < STREAMS + 200:
        pytest.skip("ulimit -n is below one file descriptor per stream")
    http = api.http
    port = int(api.url.rsplit(":", 1)[1])
    probe = http.post("/jobs", json={"type": "add", "payload": {"x": 1, "y": 2}},
                      params={"wait": 10}).json()
    baseline_times, _ = Poller(api.url, probe["id"], 2).result()

    jobs = [http.post("/jobs", json={"type": "sleep",
                                     "payload": {"seconds": JOB_S, "steps": JOB_STEPS}}).json()
            for _ in range(JOBS)]
    sampler = Sampler(own_valkey.url, own_valkey.port, api.proc.pid, worker_proc.pid)
    poller = Poller(api.url, probe["id"], JOB_S + 2)
    sampler.start()
    streams = [Stream() for _ in range(STREAMS)]
    start = time.monotonic()
    try:
        await asyncio.wait_for(asyncio.gather(*(
            follow(port, jobs[i % JOBS]["id"], s) for i, s in enumerate(streams))), 90)
    finally:
        took = time.monotonic() - start
        sampler.stop.set()
        sampler.join(5)
        times, codes = poller.result()
    metrics = http.get("/metrics").text

    errors = [s.error for s in streams if s.error]
    assert not errors, (len(errors), errors[:3])
    assert all(s.status == 200 and s.ended for s in streams)
    for s in streams:  # each stream: the whole job, in order, ending with its end
        progress = [e["progress"] for e in s.events if e["type"] == "progress"]
        assert progress == sorted(progress) and progress[-1] == 100, s.events
        assert (s.events[-1]["type"], s.events[-1]["status"]) == ("status", "succeeded")
    assert "agentq_sse_followers 0.0" in metrics

    own = 1  # the sampler's connection
    worst_api = max(api_n for _, api_n, _ in sampler.samples)
    worst_others = max(clients - worker_n - own for clients, _, worker_n in sampler.samples)
    get_p99 = p99(times)
    print(f"[followers] streams={STREAMS} jobs={JOBS} took_s={took:.1f} "
          f"api_redis_connections_max={worst_api} info_clients_max="
          f"{max(c for c, _, _ in sampler.samples)} get_p99_ms={get_p99 * 1000:.1f} "
          f"(before: {p99(baseline_times) * 1000:.1f}) gets={len(times)}")
    assert len(sampler.samples) > 20
    assert 1 <= worst_api <= API_CONNECTIONS_MAX
    assert worst_others <= API_CONNECTIONS_MAX, "INFO clients beyond the API's bound"
    assert codes == {200: len(times)}
    assert get_p99 < GET_P99_MAX_S, (
        f"GET /jobs/{{id}} p99 {get_p99 * 1000:.0f} ms; the slowest (ms, at s): "
        f"{[(round(t * 1000), round(at, 1)) for t, at in poller.worst]}")

