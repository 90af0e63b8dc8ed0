"""The followers benchmark: N viewers following live jobs through one API process.

    .venv/bin/python -m bench.followers [--quick] [--followers 100,1000,5000]
        [--designs hub,per-stream] [--jobs 50] [--seconds 15] [--profile]

For each design and each N: one Valkey (flushed), one worker, one API process (uvicorn);
M running `bench_follow` jobs (bench/followers_tasks.py: a progress event every second
and a partial text 3 times a second); N event streams spread over them, opened by the
load generator in a process of its own (bench/followers_load.py), and a poller reading
`GET /jobs/{id}` every 20 ms in another. Measured: streams that completed, delivery lag
p50/p99 (worker write, i.e. the stream id's milliseconds, to receipt), the API process's
CPU time per delivered event, its Redis connections (sampled every 100 ms), the whole
server's clients, and the poller's p99.

Designs: `hub` is the API as shipped (the event hub, src/queue/fanout.py); `per-stream` is
one blocking XREAD per open stream on the request pool (bench/followers_app.py), with
everything else as shipped; `--api-ref REF` adds the API of a git commit as it was
(`git archive REF src`, run from a temporary directory), e.g. the one before the hub.
Writes bench/results/followers.md and followers.json; `--profile` adds a py-spy profile
of the API per run (bench/results/followers-profile-<design>-<n>.txt) when py-spy is in
bench/.venv-peers/*/bin or .venv/bin.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import redis

from bench.driver import Valkey, free_port, log
from bench.http_bench import stop
from tests.support import redis_connections

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PY = ROOT / ".venv" / "bin" / "python"
APPS = {"hub": ["src.api.app:app"], "per-stream": ["--factory", "bench.followers_app:per_stream"]}
TARGETS = {  # followers: (lag p99 ms, poller p99 ms); every run: all complete, 0 errors
    1000: (250, 50),
    5000: (1000, None),
}
API_CONNECTIONS_MAX = 16


def _env(url: str, namespace: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTQ_", "LLM_"))}
    env.update(REDIS_URL=url, AGENTQ_NAMESPACE=namespace, PYTHONPATH=str(ROOT),
               AGENTQ_TASK_MODULES="bench.followers_tasks", PYTHONUNBUFFERED="1")
    return env


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


class Sampler(threading.Thread):
    def __init__(self, url: str, port: int, pid: int) -> None:
        super().__init__(daemon=True)
        self.redis = redis.Redis.from_url(url)
        self.port, self.pid = port, pid
        self.api: list[int] = []
        self.clients: list[int] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.1):
            try:
                self.clients.append(int(self.redis.info("clients")["connected_clients"]))
                self.api.append(redis_connections(self.pid, self.port))
            except (OSError, redis.RedisError):
                pass


def _py_spy() -> str | None:
    for candidate in (*sorted((ROOT / "bench" / ".venv-peers").glob("*/bin/py-spy")),
                      ROOT / ".venv" / "bin" / "py-spy"):
        if candidate.exists():
            return str(candidate)
    return None


def _profile_top(raw: Path, out: Path, title: str) -> None:
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    n = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        c = int(count)
        n += c
        frames = stack.split(";")
        own[frames[-1]] += c
        for frame in set(frames):
            total[frame] += c
    lines = [title, f"{n} samples of the API's main thread", "", "by own time:"]
    lines += [f"{c * 100 / n:5.1f}%  {f}" for f, c in own.most_common(30)]
    lines += ["", "by total time:"]
    lines += [f"{c * 100 / n:5.1f}%  {f}" for f, c in total.most_common(60)]
    out.write_text("\n".join(lines) + "\n")


def run_one(valkey: Valkey, design: str, followers: int, args: argparse.Namespace,
            workdir: Path) -> dict[str, Any]:
    valkey.flush()
    env = _env(valkey.url, f"f{uuid.uuid4().hex[:6]}")
    worker_log = open(workdir / f"worker-{design}-{followers}.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen(
        [str(PY), "-m", "src.worker", "--concurrency", str(args.jobs), "--log-level", "WARNING"],
        cwd=ROOT, env=env, stdout=worker_log, stderr=subprocess.STDOUT)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api_log = open(workdir / f"api-{design}-{followers}.log", "wb")  # noqa: SIM115
    api_env, api_cwd, app = env, ROOT, APPS.get(design)
    if app is None:  # the API of a git commit, exported by main()
        api_cwd, app = args.api_src, APPS["hub"]
        api_env = {**env, "PYTHONPATH": f"{args.api_src}{os.pathsep}{ROOT}"}
    api = subprocess.Popen(
        [str(PY), "-m", "uvicorn", *app, "--host", "127.0.0.1", "--port", str(port),
         "--no-access-log", "--log-level", "warning", "--backlog", "4096"],
        cwd=api_cwd, env=api_env, stdout=api_log, stderr=subprocess.STDOUT)
    sampler = None
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if http.get("/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or api.poll() is not None:
                    raise RuntimeError("the API did not start")
                time.sleep(0.1)
            rng = random.Random(followers)
            jobs = [http.post("/jobs", json={"type": "bench_follow", "payload": {
                "seconds": args.seconds, "offset_s": rng.random()}}).json()["id"]
                for _ in range(args.jobs)]
            deadline = time.monotonic() + 20
            while any(http.get(f"/jobs/{j}").json()["status"] != "running" for j in jobs):
                if time.monotonic() > deadline:
                    raise RuntimeError("the jobs did not start")
                time.sleep(0.1)

            sampler = Sampler(valkey.url, valkey.port, api.pid)
            sampler.start()
            cpu0 = _cpu_s(api.pid)
            poller = subprocess.Popen(
                [str(PY), "-m", "bench.followers_load", "poll", "--url", base, "--job", jobs[0],
                 "--seconds", str(args.seconds)], cwd=ROOT, env=env, stdout=subprocess.PIPE)
            spy = None
            if args.profile and (binary := _py_spy()):
                spy = subprocess.Popen(
                    [binary, "record", "-p", str(api.pid), "-d", str(int(args.seconds)),
                     "-r", "200", "-f", "raw", "-o", str(workdir / "profile.raw")],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            load = subprocess.run(
                [str(PY), "-m", "bench.followers_load", "follow", "--url", base,
                 "--jobs", ",".join(jobs), "--followers", str(followers),
                 "--timeout", str(args.seconds + 60)],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=args.seconds + 120)
            cpu = _cpu_s(api.pid) - cpu0
            children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            load_cpu = (children1.ru_utime + children1.ru_stime
                        - children0.ru_utime - children0.ru_stime)
            rss_mb = _peak_rss_mb(api.pid)
            sampler.halt.set()
            polled = json.loads(poller.communicate(timeout=args.seconds + 60)[0])
            if spy is not None:
                spy.wait(timeout=args.seconds + 60)
                raw = workdir / "profile.raw"
                if raw.exists():
                    _profile_top(raw, RESULTS / f"followers-profile-{design}-{followers}.txt",
                                 f"API ({design}), {followers} followers over {args.jobs} jobs")
            if load.returncode != 0:
                raise RuntimeError(f"load generator failed: {load.stderr[-800:]}")
            result = json.loads(load.stdout.strip().splitlines()[-1])
    finally:
        if sampler is not None:
            sampler.halt.set()
        stop(api)
        stop(worker)
        worker_log.close()
        api_log.close()
    result.update(
        design=design, jobs=args.jobs, api_cpu_s=cpu, api_peak_rss_mb=rss_mb,
        load_generator_cpu_s=load_cpu,
        cpu_us_per_event=cpu / result["events"] * 1e6 if result["events"] else None,
        api_redis_connections_max=max(sampler.api, default=None),
        redis_clients_max=max(sampler.clients, default=None),
        poll_p50_ms=polled["p50_ms"], poll_p99_ms=polled["p99_ms"],
        poll_max_ms=polled["max_ms"], poll_errors=polled["errors"])
    return result


def _fmt(v: Any, digits: int = 0) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}"


def _s(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| design | followers | streams completed | errors | lag p50 / p99 ms | "
           "steady lag p99 ms | stream opened p50 / max s | API CPU µs per event | "
           "API Redis connections | Redis clients | poller p50 / p99 ms |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        errors = sum(r["errors"].values())
        out.append(
            f"| {r['design']} | {r['followers']:,} | {r['completed']:,} | "
            f"{errors:,}{' (' + ', '.join(r['errors']) + ')' if errors else ''} | "
            f"{_fmt(r['lag_p50_ms'])} / {_fmt(r['lag_p99_ms'])} | "
            f"{_fmt(r['steady_lag_p99_ms'])} | "
            f"{_fmt(_s(r['open_p50_ms']), 1)} / {_fmt(_s(r['open_max_ms']), 1)} | "
            f"{_fmt(r['cpu_us_per_event'])} | {_fmt(r['api_redis_connections_max'])} | "
            f"{_fmt(r['redis_clients_max'])} | "
            f"{_fmt(r['poll_p50_ms'], 1)} / {_fmt(r['poll_p99_ms'], 1)} |")
    return "\n".join(out)


def verdicts(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in (r for r in rows if r["design"] == "hub"):
        n = r["followers"]
        checks = [("all streams complete", r["completed"] == n),
                  ("0 errors", not r["errors"]),
                  (f"API Redis connections ≤ {API_CONNECTIONS_MAX}",
                   (r["api_redis_connections_max"] or 0) <= API_CONNECTIONS_MAX)]
        lag_max, poll_max = TARGETS.get(n, (None, None))
        if lag_max is not None:
            checks.append((f"lag p99 ≤ {lag_max} ms", (r["lag_p99_ms"] or 1e9) <= lag_max))
        if poll_max is not None:
            checks.append((f"poller p99 ≤ {poll_max} ms", r["poll_p99_ms"] <= poll_max))
        for name, ok in checks:
            out.append(f"| {n:,} followers: {name} | {'PASS' if ok else 'MISS'} |")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="100 and 1,000 followers, 8 s jobs")
    p.add_argument("--followers", default=None, help="comma-separated N (100,1000,5000)")
    p.add_argument("--designs", default="hub,per-stream")
    p.add_argument("--jobs", type=int, default=50, help="running jobs (M)")
    p.add_argument("--seconds", type=float, default=None, help="how long each job runs")
    p.add_argument("--profile", action="store_true", help="py-spy profile of the API per run")
    p.add_argument("--api-ref", default=None,
                   help="also measure the API of this git commit (e.g. the one before the hub)")
    args = p.parse_args()
    counts = [int(n) for n in (args.followers or ("100,1000" if args.quick else
                                                   "100,1000,5000")).split(",")]
    args.seconds = args.seconds or (8.0 if args.quick else 15.0)
    designs = args.designs.split(",")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a socket per follower
    if hard < max(counts) + 500:
        log(f"followers: ulimit -n is {hard}; runs past {hard - 500} followers will fail")
    RESULTS.mkdir(exist_ok=True)
    rows: list[dict[str, Any]] = []
    started = time.monotonic()
    with Valkey() as valkey, tempfile.TemporaryDirectory(prefix="bench-followers-") as tmp:
        if args.api_ref:
            args.api_src = Path(tmp) / "api-src"
            args.api_src.mkdir()
            archive = subprocess.run(["git", "archive", args.api_ref, "src"], cwd=ROOT,
                                     capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(args.api_src)], input=archive, check=True)
            short = subprocess.run(["git", "rev-parse", "--short", args.api_ref], cwd=ROOT,
                                   capture_output=True, text=True, check=True).stdout.strip()
            designs.append(f"at {short}")
        for n in counts:
            for design in designs:
                log(f"followers: {design}, {n:,} followers over {args.jobs} jobs ...")
                try:
                    row = run_one(valkey, design, n, args, Path(tmp))
                except Exception as exc:  # one failed run is a row, not the end of the table
                    log(f"followers: {design} {n}: {exc}")
                    continue
                log(f"  {json.dumps(row)}")
                rows.append(row)
    took = (time.monotonic() - started) / 60
    md = [f"Followers: one API process, one worker, {args.jobs} running jobs of "
          f"{args.seconds:.0f} s (a progress event per second, a partial text 3 times a "
          f"second), N event streams from a load generator in another process, a poller "
          f"reading GET /jobs/{{id}} every 20 ms. {os.cpu_count()} CPUs, "
          f"{valkey.engine} {valkey.version}; {took:.1f} minutes. Lag: from the worker's "
          f"write (the event's stream id) to receipt, for the events written after their "
          f"stream opened; steady: only those written once all N streams had opened. "
          f"Stream opened: from connecting to the response's first bytes.", "", table(rows), "",
          "| target | |", "| --- | --- |", *verdicts(rows)]
    text = "\n".join(md) + "\n"
    (RESULTS / "followers.md").write_text(text)
    (RESULTS / "followers.json").write_text(json.dumps(rows, indent=1) + "\n")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
