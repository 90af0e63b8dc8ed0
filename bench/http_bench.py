"""HTTP figures: `POST /jobs` and `GET /jobs/{id}` of the agentq API beside a
FastAPI endpoint that only PINGs Redis (bench/ping_app.py, the ceiling).

Each server is one uvicorn process started here and stopped by its pid; the load
generator is another process: `wrk` when installed (BENCH_HTTP_GEN=python forces the
Python one in bench/loadgen.py). One server runs at a time.
"""

from __future__ import annotations

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
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
UVICORN = ROOT / ".venv" / "bin" / "uvicorn"
CONNECTIONS = 16
BODY = json.dumps({"type": "bench_noop", "payload": {"data": "x" * 200}, "max_attempts": 1})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



def stop(proc: subprocess.Popen | None) -> None:
    """SIGTERM, a bounded wait, then SIGKILL."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

class Server:
    def __init__(self, app: str, redis_url: str, ready_path: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.app, self.ready_path = app, ready_path
        self.env = dict(os.environ, REDIS_URL=redis_url, AGENTQ_NAMESPACE="bench",
                        AGENTQ_TASK_MODULES="bench.agentq_tasks", AGENTQ_API_KEYS="",
                        PYTHONPATH=str(ROOT))
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [str(UVICORN), self.app, "--host", "127.0.0.1", "--port", str(self.port),
             "--no-access-log", "--log-level", "warning"],
            cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if httpx.get(self.base + self.ready_path, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.log.seek(0)
        tail = self.log.read().decode(errors="replace")[-800:]
        self.__exit__()
        raise RuntimeError(f"{self.app} did not become ready: {tail}")

    def __exit__(self, *exc: object) -> None:
        stop(self.proc)
        self.log.close()


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        return float("nan")
    v, unit = float(m.group(1)), m.group(2)
    return v * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def _wrk(url: str, method: str, body: str, duration_s: float) -> dict:
    script = None
    argv = ["wrk", "-t1", f"-c{CONNECTIONS}", "--latency"]
    if method != "GET":
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write(f"wrk.method = {json.dumps(method)}\n"
                     f"wrk.body = {json.dumps(body)}\n"
                     'wrk.headers["Content-Type"] = "application/json"\n')
        script.close()
        argv += ["-s", script.name]
    try:
        subprocess.run([*argv, "-d1s", url], capture_output=True, timeout=30)  # warm-up
        out = subprocess.run([*argv, f"-d{duration_s:g}s", url], capture_output=True, text=True,
                             timeout=duration_s + 30).stdout
    finally:
        if script:
            os.unlink(script.name)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if not rps:
        raise RuntimeError(f"wrk said: {out[-400:]}")
    return {"rps": float(rps.group(1)), "p50_ms": _ms(p50.group(1)) if p50 else float("nan"),
            "p99_ms": _ms(p99.group(1)) if p99 else float("nan"),
            "errors": int(errors.group(1)) if errors else 0}


def _python(url: str, method: str, body: str, duration_s: float) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", "--url", url, "--method", method, "--body", body,
         "--connections", str(CONNECTIONS), "--duration", str(duration_s)],
        cwd=ROOT, capture_output=True, text=True, timeout=duration_s + 60,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-400:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def generator() -> str:
    if os.environ.get("BENCH_HTTP_GEN") != "python" and shutil.which("wrk"):
        return "wrk"
    return "python"


def load(url: str, method: str = "GET", body: str = "", duration_s: float = 5) -> dict:
    fn = _wrk if generator() == "wrk" else _python
    return fn(url, method, body, duration_s)


def run_all(redis_url: str, duration_s: float = 5) -> dict:
    gen = generator()
    out: dict = {
        "generator": f"{gen}, {CONNECTIONS} connections, {duration_s:g} s after 1 s warm-up"
    }
    try:
        with Server("bench.ping_app:app", redis_url, "/ping") as s:
            out["ping"] = load(s.base + "/ping", duration_s=duration_s)
        with Server("src.api.app:app", redis_url, "/health") as s:
            out["post_jobs"] = load(s.base + "/jobs", "POST", BODY, duration_s)
            r = httpx.post(s.base + "/jobs", content=BODY,
                           headers={"Content-Type": "application/json"}, timeout=5)
            r.raise_for_status()
            out["get_job"] = load(s.base + f"/jobs/{r.json()['id']}", duration_s=duration_s)
    except Exception as exc:  # report, don't lose the other figures
        out["error"] = f"{type(exc).__name__}: {exc}"
    for key in ("ping", "post_jobs", "get_job"):
        if key in out and out[key].get("errors"):
            out.setdefault("error", f"{key}: {out[key]['errors']} error responses")
    return out


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379/0"
    sys.stdout.write(json.dumps(run_all(url)) + "\n")
