"""Agent-shaped load: one worker process holding N streaming jobs at once.

    .venv/bin/python -m bench.agent_load                       # 1,000 jobs of 30 s
    .venv/bin/python -m bench.agent_load --seconds 20 --jobs 200   # a quick run
    bash bench/run.sh --only agent                              # the same, from run.sh

One Valkey, a fake OpenAI-compatible server (`fake-llm` below, a process of its own:
plain asyncio, HTTP/1.1 with chunked server-sent events), one agentq worker process
(`python -m src.worker --concurrency N`) and an event reader (`reader` below, a process
of its own). N `bench_agent` jobs (bench/agent_tasks.py) are enqueued at once; each
streams a completion that the fake server sends as 5 pieces a second for D seconds,
and emits each piece with `ctx.emit("partial", ...)`, through the worker's LLM client as
shipped (`agent`), then with that client's HTTP pool unbounded (`agent-unbounded-pool`);
then the built-in `sleep` task (`{"seconds": D, "steps": 5·D}`: a progress event 5
times a second). `--profile 10` also records the worker with py-spy for 10 s.

Measured, for the worker process: CPU (cores, from /proc/<pid>/stat, while all N jobs
run, and over the whole run), CPU per event, Redis round trips per event (bench/rtcount,
everything the worker sent over the run: claims and finishes too), memory per running
job (peak RSS minus idle RSS, over N), how late the jobs finish (finished_at −
started_at − D, from the records), and the event lag: a reader process follows a sample
of the jobs' event streams with XREAD and takes, for each event, the time it read it
minus the event's own `at` (set when the task called emit/progress; same clock).
Writes bench/results/agent.md (and agent.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import redis

from bench import noise

ROOT = Path(__file__).resolve().parents[1]
PY = ROOT / ".venv" / "bin" / "python"
RESULTS = ROOT / "bench" / "results"
RTCOUNT_DIR = ROOT / "bench" / "rtcount"
NAMESPACE = "bench"
PREFIX = "{" + NAMESPACE + "}"
RATE = 5  # pieces (events) a second per job
PYSPY = ROOT / "bench" / ".venv-peers" / "prof" / "bin" / "py-spy"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(msg: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


# ------------------------------------------------------------------ the fake LLM server


async def _serve_llm(port: int, seconds: float, rate: float) -> None:
    loop = asyncio.get_running_loop()
    pieces = max(1, round(seconds * rate))

    def chunk(payload: dict[str, Any] | str) -> bytes:
        data = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
        body = f"data: {data}\n\n".encode()
        return f"{len(body):x}\r\n".encode() + body + b"\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: one request after the other on a connection
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                body = orjson.loads(await reader.readexactly(length)) if length else {}
                model = body.get("model", "fake")
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                             b"transfer-encoding: chunked\r\n\r\n")
                base = {"id": "c1", "object": "chat.completion.chunk", "model": model}
                writer.write(chunk({**base, "choices": [{"index": 0,
                                                         "delta": {"role": "assistant"}}]}))
                start = loop.time()
                for i in range(1, pieces + 1):
                    await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
                    writer.write(chunk({**base, "choices": [{
                        "index": 0, "delta": {"content": f"word{i} of the answer "},
                        "finish_reason": None}]}))
                writer.write(chunk({**base, "choices": [{"index": 0, "delta": {},
                                                         "finish_reason": "stop"}]}))
                writer.write(chunk("[DONE]") + b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


# ------------------------------------------------------------------ the event reader


async def _read_events(url: str, ids: list[str], timeout_s: float) -> dict[str, Any]:
    """Follow the sampled jobs' event streams until each has its final status event."""
    import redis.asyncio as aredis

    r = aredis.Redis.from_url(url)
    last = {f"{PREFIX}:events:{i}": "0-0" for i in ids}
    open_ = set(last)
    lag_ms: list[float] = []
    xadd_ms: list[float] = []
    started = time.time()
    deadline = time.monotonic() + timeout_s
    while open_ and time.monotonic() < deadline:
        got = await r.xread({k: last[k] for k in open_}, count=1000, block=200)
        now = time.time()
        for key, entries in got or []:
            key = key.decode()
            for entry_id, fields in entries:
                last[key] = entry_id.decode()
                ev = orjson.loads(fields.get(b"d") or next(iter(fields.values())))
                kind = ev.get("type")
                if kind == "status" and ev.get("status") in ("succeeded", "failed",
                                                              "cancelled"):
                    open_.discard(key)
                at = epoch(ev.get("at"))
                if kind in ("partial", "progress") and at is not None and at >= started:
                    lag_ms.append((now - at) * 1000)
                    xadd_ms.append(now * 1000 - int(last[key].split("-")[0]))
    await r.aclose()
    return {"lag_ms": lag_ms, "xadd_ms": xadd_ms, "unfinished": len(open_)}


# ------------------------------------------------------------------ the run


class Proc:
    """A /proc reader for one process: CPU seconds and RSS bytes."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def cpu_s(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime

    def rss(self) -> int:
        with open(f"/proc/{self.pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE


def _start(argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as out:
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _stop(p: subprocess.Popen[bytes] | None, grace_s: float = 15) -> None:
    if p is None or p.poll() is not None:
        return
    os.killpg(p.pid, signal.SIGTERM)
    try:
        p.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=5)


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} in 15 s")


# the benchmark's own reads (its polls, the reader's XREADs), not the worker's
OWN_COMMANDS = {"xread", "hget", "client|list", "info", "client|setinfo", "hello", "ping"}


def _calls(r: redis.Redis) -> dict[str, int]:
    """Commands the server has run (those inside scripts too), by name, less our own."""
    return {k[8:]: int(v["calls"]) for k, v in r.info("commandstats").items()
            if k.startswith("cmdstat_") and k[8:] not in OWN_COMMANDS}


def _task_events(r: redis.Redis, ids: list[str]) -> int:
    """The partial and progress events the tasks wrote (every job's stream, read back)."""
    total = 0
    for k in range(0, len(ids), 50):
        pipe = r.pipeline(transaction=False)
        for i in ids[k:k + 50]:
            pipe.xrange(f"{PREFIX}:events:{i}")
        for entries in pipe.execute():
            for _, fields in entries:
                kind = orjson.loads(fields[b"d"]).get("type")
                total += kind in ("partial", "progress")
    return total


def run_case(args: argparse.Namespace, url: str, llm_url: str, case: str,
             log_dir: Path) -> dict[str, Any]:
    """One worker, N jobs of one kind; returns the figures."""
    r = redis.Redis.from_url(url)
    r.flushall()
    n, d = args.jobs, args.seconds
    rt_dir = tempfile.mkdtemp(prefix="agent-rt-")
    env = dict(os.environ, REDIS_URL=url, AGENTQ_NAMESPACE=NAMESPACE,
               PYTHONPATH=os.pathsep.join([str(RTCOUNT_DIR), str(ROOT)]),
               BENCH_RT_DIR=rt_dir, LLM_BASE_URL=llm_url, LLM_MODEL="fake",
               LLM_RPM="", LLM_TPM="", PYTHONUNBUFFERED="1")
    env.pop("BENCH_LLM_POOL", None)
    if case == "agent-unbounded-pool":
        env["BENCH_LLM_POOL"] = "unbounded"
    worker = _start([str(PY), "-m", "src.worker", "--queues", "default", "--concurrency",
                     str(args.concurrency), "--tasks", "bench.agent_tasks", "--log-level",
                     "WARNING"], env, log_dir / f"worker-{case}.log")
    reader: subprocess.Popen[bytes] | None = None
    try:
        proc = Proc(worker.pid)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # idle: blocked on its queue
            if worker.poll() is not None:
                raise RuntimeError(f"worker exited; see {log_dir}")
            if any("b" in c.get("flags", "") for c in r.client_list()):
                break
            time.sleep(0.1)
        time.sleep(1.0)
        idle_rss, cpu0, t0 = proc.rss(), proc.cpu_s(), time.time()
        calls0 = _calls(r)

        from src.queue import SyncClient

        if case == "sleep":
            job = {"type": "sleep", "payload": {"seconds": d, "steps": int(d * RATE)}}
        else:
            job = {"type": "bench_agent", "payload": {"prompt": "Write a long answer."},
                   "max_attempts": 1}
        client = SyncClient.from_url(url, namespace=NAMESPACE)
        ids: list[str] = []
        for i in range(0, n, 500):
            ids += [e.id for e in client.enqueue_many([job] * min(500, n - i))]
        client.close()
        t_enq = time.time()
        sample = ids[:: max(1, n // args.sample)][: args.sample]
        ids_file = Path(rt_dir) / "sample.json"
        ids_file.write_text(json.dumps(sample))
        out_file = Path(rt_dir) / "reader.json"
        reader = _start([str(PY), "-m", "bench.agent_load", "reader", "--url", url, "--ids",
                         str(ids_file), "--out", str(out_file), "--timeout",
                         str(d * 12 + 120)], dict(os.environ, PYTHONPATH=str(ROOT)),
                        log_dir / f"reader-{case}.log")

        samples: list[tuple[float, float, int]] = []  # (time, cpu s, rss)
        spy: subprocess.Popen[bytes] | None = None
        spy_raw = Path(rt_dir) / "profile.collapsed"
        profile_from = min(5.0, d / 3) if args.profile_from is None else args.profile_from
        stats_key = f"{PREFIX}:stats"
        deadline = time.monotonic() + d * 12 + 120
        done = 0
        while time.monotonic() < deadline:
            samples.append((time.time(), proc.cpu_s(), proc.rss()))
            done = sum(int(r.hget(stats_key, f"default:{s}") or 0)
                       for s in ("succeeded", "failed", "dead"))
            if done >= n or worker.poll() is not None:
                break
            if args.profile and spy is None and time.time() - t_enq >= profile_from:
                spy = subprocess.Popen(  # py-spy from bench/profile.sh's virtualenv
                    [str(PYSPY), "record", "--pid", str(worker.pid), "--duration",
                     str(int(args.profile)), "--rate", "100", "--format", "raw", "-o",
                     str(spy_raw)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        if spy is not None:
            spy.wait(timeout=args.profile + 30)
            from bench.profile import _summary

            (RESULTS / f"agent-profile-{case}.txt").write_text(_summary(
                spy_raw, f"agentq worker under bench/agent_load.py, case {case}: {n} jobs, "
                f"concurrency {args.concurrency}, D = {d:g} s; py-spy record --pid for "
                f"{args.profile:g} s at 100 Hz from {profile_from:g} s after the enqueue"))
        t_done = time.time()
        samples.append((t_done, proc.cpu_s(), proc.rss()))
        calls = {k: v - calls0.get(k, 0) for k, v in _calls(r).items()}
        succeeded = int(r.hget(stats_key, "default:succeeded") or 0)
        # the records: when each job started and finished, how it ended
        starts, ends = [], []
        errors: dict[str, int] = {}
        pipe = r.pipeline(transaction=False)
        for i in ids:
            pipe.get(f"{PREFIX}:job:{i}")
        for raw in pipe.execute():
            rec = orjson.loads(raw) if raw else {}
            s, e = epoch(rec.get("started_at")), epoch(rec.get("finished_at"))
            if s is not None and e is not None and rec.get("status") == "succeeded":
                starts.append(s)
                ends.append(e)
            if rec.get("status") != "succeeded":
                err = rec.get("error") or {}
                err = err.get("message", "") if isinstance(err, dict) else str(err)
                why = f"{rec.get('status')}: " + re.sub(r"\d+(\.\d+)?", "N", err)[:90]
                errors[why] = errors.get(why, 0) + 1
        events = _task_events(r, ids)
        try:
            reader.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        read = json.loads(out_file.read_text()) if out_file.exists() else {}
    finally:
        _stop(reader, 5)
        _stop(worker)  # SIGTERM: a clean exit, so rtcount writes its count
        r.close()
    rt = sum(json.loads(p.read_text())["round_trips"]
             for p in Path(rt_dir).glob("*.json") if p.stem.isdigit())
    shutil.rmtree(rt_dir, ignore_errors=True)

    # while all N run: from the last start to the first finish
    w0, w1 = (max(starts), min(ends)) if starts else (t0, t_done)
    window = [s for s in samples if w0 <= s[0] <= w1]
    steady = None
    if len(window) >= 2 and window[-1][0] - window[0][0] >= 2:
        steady = (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])
    cpu_total = samples[-1][1] - cpu0
    durations = [e - s for s, e in zip(starts, ends, strict=True)]
    overrun = [x - d for x in durations]
    late_vs_enqueue = [e - t_enq - d for e in ends]
    return {
        "case": case, "jobs": n, "seconds": d, "concurrency": args.concurrency,
        "succeeded": succeeded, "events": events, "not_succeeded": errors,
        "run_s": round(t_done - t0, 1),
        "cores_steady": steady, "steady_window_s": round(w1 - w0, 1),
        "cores_run": cpu_total / (t_done - t0),
        "cpu_us_per_event": cpu_total / events * 1e6 if events else None,
        "rt": rt, "rt_per_event": rt / events if events else None,
        "rt_per_job": rt / n,
        "commands_per_event": sum(calls.values()) / events if events else None,
        "commands": calls,
        "rss_idle_mb": idle_rss / 2**20,
        "rss_peak_mb": max(s[2] for s in samples) / 2**20,
        "kb_per_job": (max(s[2] for s in samples) - idle_rss) / n / 1024,
        "start_spread_s": (max(starts) - min(starts)) if starts else None,
        "overrun_p50_s": pct(overrun, 0.5), "overrun_p99_s": pct(overrun, 0.99),
        "overrun_max_s": max(overrun) if overrun else None,
        "late_vs_enqueue_p50_s": pct(late_vs_enqueue, 0.5),
        "late_vs_enqueue_max_s": max(late_vs_enqueue) if late_vs_enqueue else None,
        "lag_p50_ms": pct(read.get("lag_ms", []), 0.5),
        "lag_p99_ms": pct(read.get("lag_ms", []), 0.99),
        "lag_max_ms": max(read.get("lag_ms", []), default=None),
        "xadd_lag_p99_ms": pct(read.get("xadd_ms", []), 0.99),
        "lag_samples": len(read.get("lag_ms", [])), "sampled_jobs": len(sample),
    }


# ------------------------------------------------------------------ the report

LABELS = {
    "agent": "`bench_agent`: streams from the fake server, `ctx.emit(\"partial\")` per piece",
    "agent-unbounded-pool": "`bench_agent`, its HTTP pool unbounded (`BENCH_LLM_POOL=unbounded`)",
    "sleep": "built-in `sleep` (`steps` = 5·D: `ctx.progress` 5 times a second)",
}


def _f(v: Any, digits: int = 0) -> str:
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def report(args: argparse.Namespace, results: list[dict[str, Any]], noise_text: str,
           took_s: float) -> str:
    cmd = args.command
    lines = [
        "# agentq under agent-shaped load",
        "",
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {took_s / 60:.1f} min.  ",
        f"Command: `{cmd.strip()}`",
        "",
        f"One worker process (`--concurrency {args.concurrency}`), {args.jobs:,} jobs enqueued "
        f"at once, each {args.seconds:g} s long with {RATE} events a second (D = "
        f"{args.seconds:g} s); one Valkey; the fake LLM server and the event reader in "
        f"processes of their own. The reader follows {args.sample} of the jobs' streams.",
        "",
        noise_text,
        "",
        "| task | jobs succeeded | events | worker cores while all run | cores over the run "
        "| CPU µs per event | Redis round trips per event | per job "
        "| Redis commands per event | memory per running job "
        "| start spread s | overrun vs D p50 / p99 / max s | finished after enqueue + D, "
        "p50 / max s | event lag p50 / p99 / max ms |",
        "| --- |" + " ---: |" * 13,
    ]
    for x in results:
        if "error" in x:
            lines.append(f"| {LABELS[x['case']]} | error: {x['error']} |" + " |" * 12)
            continue
        steady = _f(x["cores_steady"], 2) if x["cores_steady"] is not None else (
            f"– (window {x['steady_window_s']} s)")
        lines.append(
            f"| {LABELS[x['case']]} | {x['succeeded']:,} of {x['jobs']:,} | {x['events']:,} "
            f"| {steady} | {_f(x['cores_run'], 2)} | {_f(x['cpu_us_per_event'])} "
            f"| {_f(x['rt_per_event'], 2)} | {_f(x['rt_per_job'], 1)} "
            f"| {_f(x['commands_per_event'], 2)} "
            f"| {_f(x['kb_per_job'], 1)} KB | {_f(x['start_spread_s'], 1)} "
            f"| {_f(x['overrun_p50_s'], 2)} / {_f(x['overrun_p99_s'], 2)} / "
            f"{_f(x['overrun_max_s'], 2)} "
            f"| {_f(x['late_vs_enqueue_p50_s'], 1)} / {_f(x['late_vs_enqueue_max_s'], 1)} "
            f"| {_f(x['lag_p50_ms'])} / {_f(x['lag_p99_ms'])} / {_f(x['lag_max_ms'])} |")
    for x in results:
        if x.get("not_succeeded"):
            lines += ["", f"{x['case']}: jobs that did not succeed, by status and error: "
                          f"`{json.dumps(x['not_succeeded'])}`"]
    lines += ["", "Redis commands per event, by command (the server's count over the run / "
                  "events):", ""]
    for x in results:
        if "commands" in x and x.get("events"):
            per = {k: round(v / x["events"], 2) for k, v in sorted(x["commands"].items())
                   if v / x["events"] >= 0.01}
            lines.append(f"- {x['case']}: `{json.dumps(per)}`")
    lines += [
        "",
        "Targets (for information): 1,000 concurrent streaming jobs on one process under "
        "half a core; no overrun beyond 1 s; events delivered within 250 ms p99.",
        "",
        "Columns: *worker cores while all run*: the worker's CPU time (/proc/<pid>/stat) over "
        "the window from the last job's start to the first job's end, per second of that "
        "window (– when that window is under 2 s); *cores over the run*: from enqueue to the "
        "last end; *CPU per event*: the worker's CPU over the run / the events the tasks "
        "emitted; *round trips*: every request the worker sent to Redis over the run (claims, "
        "finishes, heartbeats included), per event and per job; *Redis commands*: what the "
        "server ran over the run (INFO commandstats, those inside scripts included, less the "
        "benchmark's own reads), per event; *memory*: peak RSS − idle "
        "RSS, over the jobs; *start spread*: last start − first start; *overrun*: "
        "finished_at − started_at − D per job (from the records); *event lag*: when the "
        "reader read an event − the event's `at` (set when the task emitted it).",
    ]
    return "\n".join(lines) + "\n"


def _regroup(errors: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for why, count in errors.items():
        why = re.sub(r"\{'type': '\w+', 'message': '(.*)'\}", r"\1", why)
        why = re.sub(r"\d+(\.\d+)?", "N", why)
        out[why] = out.get(why, 0) + count
    return out


def rerender(args: argparse.Namespace, path: Path) -> None:
    """Write the report again from a results JSON (e.g. after a change to the report)."""
    data = json.loads(path.read_text())
    args.command = data.get("command", args.command)
    for x in data["results"]:
        x["not_succeeded"] = _regroup(x.get("not_succeeded", {}))
    text = report(args, data["results"], noise.describe(data["noise"]["start"],
                                                         data["noise"]["end"]),
                  data.get("took_s", data["noise"]["end"]["at"] - data["noise"]["start"]["at"]))
    args.out.write_text(text.replace("Run: " + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                     "Run: " + data.get("run", "?")))
    path.write_text(json.dumps(data, indent=1))


def main_run(args: argparse.Namespace) -> None:
    from bench.driver import Valkey

    RESULTS.mkdir(exist_ok=True)
    log_dir = Path(tempfile.gettempdir()) / "agentq-bench-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()
    start = noise.snapshot()
    results = []
    port = free_port()
    fake = _start([str(PY), "-m", "bench.agent_load", "fake-llm", "--port", str(port),
                   "--seconds", str(args.seconds)], dict(os.environ, PYTHONPATH=str(ROOT)),
                  log_dir / "fake-llm.log")
    try:
        _wait_port(port, fake, "the fake LLM server")
        with Valkey() as valkey:
            for case in args.cases:
                log(f"{case}: {args.jobs} jobs of {args.seconds:g} s")
                try:
                    out = run_case(args, valkey.url, f"http://127.0.0.1:{port}/v1", case,
                                   log_dir)
                except Exception as exc:  # report what the other cases measured
                    out = {"case": case, "error": f"{type(exc).__name__}: {exc}"}
                log(json.dumps({k: round(v, 3) if isinstance(v, float) else v
                                for k, v in out.items()}))
                results.append(out)
    finally:
        _stop(fake, 5)
    end = noise.snapshot()
    text = report(args, results, noise.describe(start, end), time.monotonic() - t_start)
    sys.stdout.write(text)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(
        {"results": results, "noise": {"start": start, "end": end},
         "run": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "command": args.command,
         "took_s": time.monotonic() - t_start}, indent=1))
    log(f"written: {args.out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd")
    f = sub.add_parser("fake-llm")
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--seconds", type=float, default=30)
    rd = sub.add_parser("reader")
    rd.add_argument("--url", required=True)
    rd.add_argument("--ids", type=Path, required=True)
    rd.add_argument("--out", type=Path, required=True)
    rd.add_argument("--timeout", type=float, default=300)
    p.add_argument("--jobs", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=None, help="default: --jobs")
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--sample", type=int, default=50, help="jobs whose events the reader follows")
    p.add_argument("--cases", type=lambda s: s.split(","),
                   default=["agent", "agent-unbounded-pool", "sleep"],
                   help="any of agent, agent-unbounded-pool, sleep (default: all three)")
    p.add_argument("--out", type=Path, default=RESULTS / "agent.md")
    p.add_argument("--profile", type=float, default=0,
                   help="py-spy the worker for this many seconds once the jobs run (installed "
                        "by bench/profile.sh); writes results/agent-profile-<case>.txt")
    p.add_argument("--profile-from", type=float, default=None,
                   help="start the profile this many seconds after the enqueue (default: "
                        "5, or D/3 when shorter)")
    p.add_argument("--rerender", type=Path, default=None,
                   help="write --out again from this results JSON, running nothing")
    args = p.parse_args()
    args.command = "python -m bench.agent_load " + " ".join(sys.argv[1:])
    try:
        import uvloop
    except ImportError:
        uvloop = None
    runner = uvloop.run if uvloop else asyncio.run
    if args.cmd == "fake-llm":
        runner(_serve_llm(args.port, args.seconds, RATE))
    elif args.cmd == "reader":
        out = runner(_read_events(args.url, json.loads(args.ids.read_text()), args.timeout))
        args.out.write_text(json.dumps(out))
    else:
        args.concurrency = args.concurrency or args.jobs
        if args.rerender:
            rerender(args, args.rerender)
        else:
            main_run(args)


if __name__ == "__main__":
    main()
