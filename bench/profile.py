"""Profiles with py-spy: one agentq worker draining no-op jobs, or the API under POST load.

    bash bench/profile.sh worker [JOBS] [CONCURRENCY]
    BENCH_BODY=io bash bench/profile.sh worker [JOBS] [CONCURRENCY]   # the I/O task body
    bash bench/profile.sh api [SECONDS]

Prints the functions with the most samples of the process's main thread, by own time
(where the CPU is; without --native, C code is charged to the Python line calling it)
and by total time (callees included), and writes bench/results/<what>-profile.txt
(`worker-io-profile.txt` for the I/O body: one INCR per job, bench/systems/body.py).
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import http_bench
from bench.driver import Valkey
from bench.systems.common import PAYLOAD

ROOT = Path(__file__).resolve().parents[1]


async def _backlog(url: str, n: int) -> None:
    import bench.agentq_tasks  # noqa: F401
    from src.queue import Client

    client = Client.from_url(url, namespace="bench")
    batch = [{"type": "bench_noop", "payload": PAYLOAD, "max_attempts": 1}] * 500
    for _ in range(n // 500):
        await client.enqueue_many(batch)
    await client.close()


def _summary(raw: Path, title: str) -> str:
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if any("Thread._bootstrap" in f for f in frames):
            continue  # idle pool threads; the event loop's thread is what matters
        c = int(count)
        samples += c
        own[frames[-1]] += c
        for f in set(frames):
            total[f] += c
    lines = [title, f"{samples} samples of the main thread", "", "By own time:"]
    lines += [f"  {100 * c / samples:5.1f}%  {f}" for f, c in own.most_common(25)]
    lines += ["", "By total time (callees included):"]
    lines += [f"  {100 * c / samples:5.1f}%  {f}" for f, c in total.most_common(45)]
    return "\n".join(lines) + "\n"


def _env(url: str) -> dict[str, str]:
    return dict(os.environ, REDIS_URL=url, AGENTQ_NAMESPACE="bench", PYTHONPATH=str(ROOT),
                AGENTQ_TASK_MODULES="bench.agentq_tasks", AGENTQ_API_KEYS="")


def profile_worker(pyspy: str, valkey: Valkey, raw: Path, n: int, conc: int) -> str:
    asyncio.run(_backlog(valkey.url, n))
    t0 = time.perf_counter()
    subprocess.run(
        [pyspy, "record", "--format", "raw", "--rate", "250", "-o", str(raw), "--",
         str(ROOT / ".venv/bin/python"), "-m", "src.worker", "--burst", "--concurrency",
         str(conc), "--tasks", "bench.agentq_tasks", "--log-level", "WARNING"],
        cwd=ROOT, env=_env(valkey.url), check=True, timeout=600,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    took = time.perf_counter() - t0
    body = os.environ.get("BENCH_BODY", "empty")
    return (f"agentq worker, {n} bench_noop jobs ({body} body), concurrency {conc}, --burst: "
            f"{took:.1f} s "
            f"under py-spy ({n / took:,.0f} jobs/s with the sampler attached, start-up included)")


def profile_api(pyspy: str, valkey: Valkey, raw: Path, seconds: float) -> str:
    port = http_bench._free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [pyspy, "record", "--format", "raw", "--rate", "250", "-o", str(raw), "--",
         str(ROOT / ".venv/bin/uvicorn"), "src.api.app:app", "--host", "127.0.0.1", "--port",
         str(port), "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=_env(valkey.url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        import httpx

        for _ in range(150):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        result = http_bench.load(base + "/jobs", "POST", http_bench.BODY, seconds)
    finally:
        # SIGINT to uvicorn (py-spy's child) ends it cleanly; py-spy then writes its file.
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)
        for pid in children.stdout.split():
            os.kill(int(pid), signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return (f"agentq API (one uvicorn process), POST /jobs for {seconds:g} s with "
            f"{http_bench.generator()}: {result['rps']:,.0f} req/s under py-spy")


def main() -> None:
    what, pyspy, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    raw = Path(tempfile.mkdtemp(prefix="agentq-profile-")) / f"{what}.collapsed"
    with Valkey() as valkey:
        if what == "worker":
            n = int(rest[0]) if rest else 60000
            conc = int(rest[1]) if len(rest) > 1 else 8
            title = profile_worker(pyspy, valkey, raw, n, conc)
        elif what == "api":
            title = profile_api(pyspy, valkey, raw, float(rest[0]) if rest else 8.0)
        else:
            raise SystemExit("usage: profile.sh worker|api [...]")
    text = _summary(raw, title)
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    name = "worker-io" if what == "worker" and os.environ.get("BENCH_BODY") == "io" else what
    (ROOT / "bench" / "results" / f"{name}-profile.txt").write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
