"""The scenarios every system runs, written once; each adapter fills in a `System`.

An adapter module is run as ``python -m bench.systems.<name> <scenario> --url URL ...``
in the virtualenv that has its library, and prints one JSON object on its last line
of stdout. Only redis-py and the standard library are used here, so this file runs
in every virtualenv (redis-py 5 for arq, 8 elsewhere).

Scenarios:
  throughput  enqueue --jobs N one call per job (timed), then start the worker(s) on
              that backlog and time from the first claim to the last finish
  pickup      idle running worker; enqueue one job at a time and read the start time
              the task pushed to the ``bench:starts`` list
  rt          round trips per job, enqueue to finished record (client + worker side)
  memory      ``used_memory`` delta over --jobs queued jobs, no worker running
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aredis

ROOT = Path(__file__).resolve().parents[2]
RTCOUNT_DIR = ROOT / "bench" / "rtcount"
STARTS_KEY = "bench:starts"
STAGING_KEY = "bench:staging"
READY_TIMEOUT_S = 4.0
PAYLOAD = {"data": "x" * 200}  # the 200-byte payload of every benchmark job


class System:
    """What one queue library needs to provide to be benchmarked."""

    name = "?"
    # worker concurrency when no --concurrency is given (informational)
    default_concurrency: int | None = None

    def __init__(self, url: str, args: argparse.Namespace) -> None:
        self.url = url
        self.args = args

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def enqueue(self, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    def worker_commands(self, concurrency: int | None, procs: int) -> list[list[str]]:
        """argv of each worker process to start (concurrency None: the default)."""
        raise NotImplementedError

    def queue_key(self) -> str:
        """The one key that holds the waiting jobs (a list, or arq's sorted set)."""
        raise NotImplementedError

    async def waiting(self, r: aredis.Redis) -> int:
        """Jobs not yet claimed by any worker."""
        raise NotImplementedError

    async def pending(self, r: aredis.Redis) -> int:
        """Jobs not yet finished (waiting + running)."""
        raise NotImplementedError

    def unsupported(self, scenario: str, concurrency: int | None, procs: int) -> str | None:
        """A reason this configuration does not exist for the library, or None."""
        return None


# ---------------------------------------------------------------------------- helpers


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _python_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(ROOT)]
    if extra and extra.get("BENCH_RT_DIR"):
        paths.insert(0, str(RTCOUNT_DIR))
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class Workers:
    """Worker processes started in their own process groups, stopped by their ids."""

    def __init__(self, commands: list[list[str]], env: dict[str, str], log_name: str) -> None:
        self.commands = commands
        self.env = env
        log_dir = Path(os.environ.get("BENCH_LOG_DIR", tempfile.gettempdir()))
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{log_name}.log"
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        log = open(self.log_path, "wb")
        for argv in self.commands:
            self.procs.append(
                subprocess.Popen(
                    argv,
                    cwd=ROOT,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        log.close()

    def alive(self) -> bool:
        return any(p.poll() is None for p in self.procs)

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM each worker's process group, then SIGKILL what is left after grace_s."""
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace_s
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)  # children of a finished leader, if any
            except (ProcessLookupError, PermissionError):
                pass
            if p.poll() is None:
                p.wait(timeout=5)


def _tail(path: Path, n: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


# -------------------------------------------------------------------------- scenarios


async def enqueue_timed(system: System, n: int) -> float:
    """n library calls, one job each, one after the other; returns jobs/s."""
    payload = PAYLOAD
    t0 = time.perf_counter()
    for _ in range(n):
        await system.enqueue(payload)
    return n / (time.perf_counter() - t0)


async def wait_ready(r: aredis.Redis, procs: int, workers: Workers,
                     timeout_s: float = READY_TIMEOUT_S) -> str:
    """Wait until `procs` clients block on the empty queue (BLMOVE, BRPOP, ...), or,
    for the libraries that poll instead of blocking, until timeout_s has passed."""
    deadline = time.monotonic() + timeout_s
    seen, stable_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        if not workers.alive():
            raise RuntimeError(f"worker exited:\n{_tail(workers.log_path)}")
        clients = await r.client_list()
        blocked = sum(1 for c in clients if "b" in c.get("flags", ""))
        if blocked != seen:  # one process may block on several connections: wait until
            seen, stable_since = blocked, time.monotonic()  # the count stops growing
        elif blocked >= procs and time.monotonic() - stable_since >= 0.6:
            return f"{blocked} blocked"
        await asyncio.sleep(0.05)
    return "timeout"


async def wait_processed(
    system: System, r: aredis.Redis, n: int, workers: Workers, timeout_s: float,
    t_first: float | None = None,
) -> dict[str, Any]:
    """Time from the first claim (or t_first) until nothing is pending (or timeout_s)."""
    deadline = time.monotonic() + timeout_s
    while t_first is None and time.monotonic() < deadline:  # wait for the first claim
        if await system.waiting(r) < n:
            t_first = time.perf_counter()
            break
        if not workers.alive():
            raise RuntimeError(f"worker exited:\n{_tail(workers.log_path)}")
        await asyncio.sleep(0.001)
    if t_first is None:
        raise RuntimeError(f"no job claimed within {timeout_s}s:\n{_tail(workers.log_path)}")
    left = n
    while time.monotonic() < deadline:
        left = await system.pending(r)
        if left <= 0:
            break
        await asyncio.sleep(0.002 if left < 50 else 0.01)
    elapsed = time.perf_counter() - t_first
    done = n - max(left, 0)
    return {"jobs_per_s": done / elapsed, "done": done, "elapsed_s": round(elapsed, 3)}


async def scenario_throughput(system: System, args: argparse.Namespace) -> dict[str, Any]:
    n = args.jobs
    r = aredis.Redis.from_url(system.url)
    out: dict[str, Any] = {}
    if not args.no_enqueue_timing:
        out["enqueue_per_s"] = await enqueue_timed(system, n)
    else:
        for _ in range(n):
            await system.enqueue(PAYLOAD)
    # Hide the backlog while the workers start, so that every process is up and idle
    # when it appears: the figure is the steady rate, not start-up time.
    queue_key = system.queue_key()
    await r.rename(queue_key, STAGING_KEY)
    cmds = system.worker_commands(args.concurrency, args.procs)
    workers = Workers(cmds, _python_env(), f"{system.name}-c{args.concurrency}-p{args.procs}")
    workers.start()
    try:
        out["ready"] = await wait_ready(r, args.procs, workers)
        await r.rename(STAGING_KEY, queue_key)
        out.update(await wait_processed(system, r, n, workers, args.timeout,
                                        t_first=time.perf_counter()))
    finally:
        workers.stop(grace_s=2)  # measured already; some libraries take seconds to exit
        await r.aclose()
    return out


async def scenario_pickup(system: System, args: argparse.Namespace) -> dict[str, Any]:
    r = aredis.Redis.from_url(system.url)
    workers = Workers(
        system.worker_commands(args.concurrency, 1),
        _python_env({"BENCH_PICKUP_KEY": STARTS_KEY}),
        f"{system.name}-pickup",
    )
    workers.start()
    latencies: list[float] = []
    lost = 0
    try:
        await system.enqueue(PAYLOAD)  # warm-up: wait for the worker to be up and idle
        if await r.blpop([STARTS_KEY], timeout=30) is None:
            raise RuntimeError(f"worker did not start a job in 30 s:\n{_tail(workers.log_path)}")
        await asyncio.sleep(0.5)
        budget = time.monotonic() + args.timeout
        while len(latencies) < args.samples and time.monotonic() < budget:
            t_enq = time.time()
            await system.enqueue(PAYLOAD)
            got = await r.blpop([STARTS_KEY], timeout=10)
            if got is None:
                lost += 1
                continue
            latencies.append((float(got[1]) - t_enq) * 1000.0)
            # let the job finish and the worker go idle; a random gap so that the
            # enqueue does not fall at a fixed phase of a polling worker's cycle
            await asyncio.sleep(random.uniform(0.002, 0.020))
    finally:
        workers.stop(grace_s=2)
        await r.aclose()
    return {
        "p50_ms": percentile(latencies, 0.50),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
        "samples": len(latencies),
        "lost": lost,
    }


def _cmdstat_calls(info: dict[str, Any]) -> dict[str, int]:
    return {k: int(v["calls"]) for k, v in info.items() if k.startswith("cmdstat_")}


async def scenario_rt(system: System, args: argparse.Namespace) -> dict[str, Any]:
    """Round trips per job, counted client-side in every process (see rtcount)."""
    sys.path.insert(0, str(RTCOUNT_DIR))
    import _rtcount  # noqa: PLC0415

    rt_dir = tempfile.mkdtemp(prefix="bench-rt-")
    os.environ["BENCH_RT_DIR"] = rt_dir
    _rtcount.install()
    _rtcount.pause(True)
    r = aredis.Redis.from_url(system.url)
    before = _cmdstat_calls(await r.info("commandstats"))
    n = args.jobs
    _rtcount.pause(False)
    base = _rtcount.count()
    for _ in range(n):
        await system.enqueue(PAYLOAD)
    client_rt = _rtcount.count() - base
    _rtcount.pause(True)
    workers = Workers(
        system.worker_commands(args.concurrency, 1),
        _python_env({"BENCH_RT_DIR": rt_dir}),
        f"{system.name}-rt",
    )
    workers.start()
    try:
        res = await wait_processed(system, r, n, workers, args.timeout)
    finally:
        workers.stop(grace_s=15)
    own = int((await r.client_info()).get("tot-cmds", 0)) + 1  # our polls and INFOs
    after = _cmdstat_calls(await r.info("commandstats"))
    await r.aclose()
    worker_rt = 0
    files = 0
    for path in Path(rt_dir).glob("*.json"):
        if int(path.stem) == os.getpid():
            continue
        worker_rt += json.loads(path.read_text())["round_trips"]
        files += 1
    shutil.rmtree(rt_dir, ignore_errors=True)
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    delta = {k: v for k, v in delta.items() if v > 0}
    return {
        "rt_per_job": (client_rt + worker_rt) / n,
        "client_rt_per_job": client_rt / n,
        "worker_rt_per_job": worker_rt / n,
        "worker_processes_counted": files,
        # every command the server ran, including those inside scripts, less our own
        "server_calls_per_job": (sum(delta.values()) - own) / n,
        "server_calls": {k[8:]: v for k, v in sorted(delta.items())},
        "done": res["done"],
    }


async def scenario_memory(system: System, args: argparse.Namespace) -> dict[str, Any]:
    r = aredis.Redis.from_url(system.url)
    await system.enqueue(PAYLOAD)  # create the queue's fixed structures first
    before = int((await r.info("memory"))["used_memory"])
    n = args.jobs
    for _ in range(n):
        await system.enqueue(PAYLOAD)
    after = int((await r.info("memory"))["used_memory"])
    keys = await r.dbsize()
    await r.aclose()
    return {"bytes_per_job": (after - before) / n, "keys": keys}


SCENARIOS = {
    "throughput": scenario_throughput,
    "pickup": scenario_pickup,
    "rt": scenario_rt,
    "memory": scenario_memory,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("scenario")
    p.add_argument("--url", required=True)
    p.add_argument("--jobs", type=int, default=3000)
    p.add_argument("--concurrency", type=int, default=None)
    p.add_argument("--procs", type=int, default=1)
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--variant", default=None)
    p.add_argument("--no-enqueue-timing", action="store_true")
    return p.parse_args(argv)


def main(system_cls: type[System], argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ["REDIS_URL"] = args.url  # the worker processes read it
    system = system_cls(args.url, args)
    reason = system.unsupported(args.scenario, args.concurrency, args.procs)
    if reason:
        sys.stdout.write(json.dumps({"unsupported": reason}) + "\n")
        return

    async def run() -> dict[str, Any]:
        await system.open()
        try:
            extra = getattr(system, "SCENARIOS", {})
            fn = extra.get(args.scenario) or SCENARIOS[args.scenario]
            return await fn(system, args)
        finally:
            await system.close()

    try:  # the loop an API server under uvicorn gets; the same for every asyncio client
        import uvloop
    except ImportError:
        result = asyncio.run(run())
    else:
        result = uvloop.run(run())
    result["system"] = system.name
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


__all__ = ["PAYLOAD", "STARTS_KEY", "System", "main", "percentile"]
