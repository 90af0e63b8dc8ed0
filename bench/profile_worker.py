"""Run `python -m src.worker --burst` under py-spy on a backlog of bench_noop jobs.

Called by bench/profile_worker.sh. Prints the functions with the most samples, by
own time (where the CPU is) and by total time (what they call included).
"""

from __future__ import annotations

import asyncio
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.driver import Valkey
from bench.systems.common import PAYLOAD

ROOT = Path(__file__).resolve().parents[1]


async def backlog(url: str, n: int) -> None:
    import bench.agentq_tasks  # noqa: F401
    from src.queue import Client

    client = Client.from_url(url, namespace="bench")
    batch = [{"type": "bench_noop", "payload": PAYLOAD, "max_attempts": 1}] * 500
    for _ in range(n // 500):
        await client.enqueue_many(batch)
    await client.close()


def main() -> None:
    n, conc, pyspy = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    out_dir = Path(tempfile.mkdtemp(prefix="agentq-profile-"))
    raw = out_dir / "worker.collapsed"
    with Valkey() as valkey:
        asyncio.run(backlog(valkey.url, n))
        env = dict(os.environ, REDIS_URL=valkey.url, AGENTQ_NAMESPACE="bench",
                   PYTHONPATH=str(ROOT))
        t0 = time.perf_counter()
        subprocess.run(
            [pyspy, "record", "--format", "raw", "--rate", "250", "-o", str(raw), "--",
             str(ROOT / ".venv/bin/python"), "-m", "src.worker", "--burst", "--concurrency",
             str(conc), "--tasks", "bench.agentq_tasks", "--log-level", "WARNING"],
            cwd=ROOT, env=env, check=True, timeout=600,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        took = time.perf_counter() - t0
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        c = int(count)
        frames = stack.split(";")
        samples += c
        own[frames[-1]] += c
        for f in set(frames):
            total[f] += c
    lines = [f"agentq worker, {n} bench_noop jobs, concurrency {conc}, --burst: "
             f"{took:.1f} s under py-spy ({n / took:,.0f} jobs/s with the sampler attached), "
             f"{samples} samples", "", "By own time:"]
    lines += [f"  {100 * c / samples:5.1f}%  {f}" for f, c in own.most_common(25)]
    lines += ["", "By total time (callees included):"]
    lines += [f"  {100 * c / samples:5.1f}%  {f}" for f, c in total.most_common(40)]
    text = "\n".join(lines) + "\n"
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "worker-profile.txt").write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
