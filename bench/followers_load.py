"""The followers benchmark's load, in processes of their own (bench/followers.py runs them).

    python -m bench.followers_load follow --url URL --jobs ID,ID,... --followers N
    python -m bench.followers_load poll --url URL --job ID --seconds S

`follow` opens N event streams (`GET /jobs/{id}/events`), spread over the jobs, as raw
HTTP/1.1 connections read by asyncio protocols (on uvloop), and reads each to its end.
The delivery lag of an event is the time it was received minus the milliseconds of its
stream id (when Redis appended it: the same machine's clock), counted for the events
written after that stream's response began (not the ones it caught up with); "steady"
counts only those written once every stream had opened. Prints JSON.

`poll` reads `GET /jobs/{id}` every 20 ms on one keep-alive connection and prints the
latencies' percentiles as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit

LAG_MAX_MS = 120_000
_HEAD, _SIZE, _DATA = 0, 1, 2


class Run:
    """What every follower of one run adds to."""

    def __init__(self, followers: int) -> None:
        self.lag = [0] * (LAG_MAX_MS + 1)  # a histogram, 1 ms buckets
        self.steady = [0] * (LAG_MAX_MS + 1)  # the same, once every stream had opened
        self.status = [0] * (LAG_MAX_MS + 1)  # the same, status events only
        self.followers = followers
        self.all_open_ms = float("inf")
        self.events = 0
        self.opened = self.completed = 0
        self.errors: dict[str, int] = {}
        self.open_times: list[float] = []
        self.pending = followers
        self.all_done = asyncio.get_running_loop().create_future()

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def finished(self) -> None:
        self.pending -= 1
        if self.pending == 0 and not self.all_done.done():
            self.all_done.set_result(None)


class Follower(asyncio.Protocol):
    """One event stream: the response head, then chunked SSE, to the last chunk."""

    def __init__(self, run: Run, host: str, job_id: str) -> None:
        self.run = run
        self.request = (f"GET /jobs/{job_id}/events HTTP/1.1\r\nHost: {host}\r\n"
                        "Accept: text/event-stream\r\n\r\n").encode()
        self.buf = bytearray()
        self.state, self.need = _HEAD, 0
        self.sse = b""
        self.started = time.monotonic()
        self.opened_ms = 0.0
        self.succeeded = False
        self.over = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now_ms = time.time() * 1000
        buf = self.buf
        buf += data
        while not self.over:
            if self.state == _HEAD:
                i = buf.find(b"\r\n\r\n")
                if i < 0:
                    return
                status = int(buf[9:12])
                del buf[:i + 4]
                if status != 200:
                    self.end(f"HTTP {status}")
                    return
                self.opened_ms = now_ms
                self.run.opened += 1
                if self.run.opened == self.run.followers:
                    self.run.all_open_ms = now_ms
                self.run.open_times.append(time.monotonic() - self.started)
                self.state = _SIZE
            elif self.state == _SIZE:
                i = buf.find(b"\r\n")
                if i < 0:
                    return
                size = int(buf[:i], 16)
                del buf[:i + 2]
                if size == 0:
                    self.end(None if self.succeeded else "ended without the terminal event")
                    return
                self.need, self.state = size, _DATA
            else:
                if len(buf) < self.need + 2:
                    return
                self.events(bytes(buf[:self.need]), now_ms)
                del buf[:self.need + 2]
                self.state = _SIZE

    def events(self, payload: bytes, now_ms: float) -> None:
        blocks = (self.sse + payload).split(b"\n\n")
        self.sse = blocks.pop()
        run = self.run
        for block in blocks:
            if not block or block.startswith(b":"):
                continue
            run.events += 1
            i = block.rfind(b"\nid: ")
            if i >= 0:
                written_ms = int(block[i + 5:].split(b"-", 1)[0])
                if written_ms >= self.opened_ms - 1:
                    lag = min(LAG_MAX_MS, max(0, int(now_ms - written_ms)))
                    run.lag[lag] += 1
                    if written_ms >= run.all_open_ms:
                        run.steady[lag] += 1
                    if b'"status"' in block:
                        run.status[lag] += 1
            if b"succeeded" in block and _succeeded(block):
                self.succeeded = True

    def end(self, error: str | None) -> None:
        if self.over:
            return
        self.over = True
        if error is None:
            self.run.completed += 1
        else:
            self.run.error(error)
        if self.transport is not None:
            self.transport.close()
        self.run.finished()

    def connection_lost(self, exc: Exception | None) -> None:
        self.end("connection closed before the end")


def _succeeded(block: bytes) -> bool:
    """Whether this event is the status `succeeded` (whatever the JSON's spacing)."""
    for line in block.split(b"\n"):
        if line.startswith(b"data:"):
            data = json.loads(line[5:])
            return bool(data.get("type") == "status" and data.get("status") == "succeeded")
    return False


def _percentile(hist: list[int], q: float) -> float | None:
    total = sum(hist)
    if not total:
        return None
    rank, seen = q * (total - 1), 0
    for ms, n in enumerate(hist):
        seen += n
        if seen > rank:
            return float(ms)
    return float(LAG_MAX_MS)


async def follow(url: str, jobs: list[str], followers: int, timeout_s: float,
                 open_at_once: int) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    run = Run(followers)
    gate = asyncio.Semaphore(open_at_once)
    start = time.monotonic()

    async def open_one(i: int) -> None:
        async with gate:
            try:
                await loop.create_connection(
                    lambda: Follower(run, host, jobs[i % len(jobs)]), host, port)
            except OSError as exc:
                run.error(f"connect: {type(exc).__name__}")
                run.finished()

    await asyncio.gather(*(open_one(i) for i in range(followers)))
    connected_s = time.monotonic() - start
    try:
        await asyncio.wait_for(asyncio.shield(run.all_done), timeout_s)
    except TimeoutError:
        run.error("not finished in time")
    took = time.monotonic() - start
    opens = sorted(run.open_times)
    return {
        "followers": followers, "opened": run.opened, "completed": run.completed,
        "errors": run.errors, "events": run.events, "lag_samples": sum(run.lag),
        "lag_p50_ms": _percentile(run.lag, 0.50), "lag_p99_ms": _percentile(run.lag, 0.99),
        "lag_max_ms": _percentile(run.lag, 1.0),
        "steady_lag_p50_ms": _percentile(run.steady, 0.50),
        "steady_lag_p99_ms": _percentile(run.steady, 0.99),
        "status_lag_p50_ms": _percentile(run.status, 0.50),
        "status_lag_p99_ms": _percentile(run.status, 0.99),
        "other_lag_p99_ms": _percentile([a - b for a, b in zip(run.lag, run.status,
                                                                strict=True)], 0.99),
        "open_p50_ms": opens[len(opens) // 2] * 1000 if opens else None,
        "open_max_ms": opens[-1] * 1000 if opens else None,
        "connected_s": connected_s, "took_s": took,
    }


def poll(url: str, job_id: str, seconds: float) -> dict[str, object]:
    import httpx

    times: list[float] = []
    errors = 0
    with httpx.Client(base_url=url, timeout=30) as http:
        first = time.perf_counter()
        while time.perf_counter() - first < seconds:
            t0 = time.perf_counter()
            try:
                ok = http.get(f"/jobs/{job_id}").status_code == 200
            except httpx.HTTPError:
                ok = False
            times.append(time.perf_counter() - t0)
            errors += not ok
            time.sleep(0.02)
    times.sort()
    n = len(times)

    def pct(q: float) -> float:
        return times[min(n - 1, int(q * n))] * 1000

    return {"polls": n, "errors": errors, "p50_ms": pct(0.5), "p99_ms": pct(0.99),
            "max_ms": times[-1] * 1000}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)
    f = sub.add_parser("follow")
    f.add_argument("--url", required=True)
    f.add_argument("--jobs", required=True, help="comma-separated job ids")
    f.add_argument("--followers", type=int, required=True)
    f.add_argument("--timeout", type=float, default=120)
    f.add_argument("--open-at-once", type=int, default=500)
    q = sub.add_parser("poll")
    q.add_argument("--url", required=True)
    q.add_argument("--job", required=True)
    q.add_argument("--seconds", type=float, required=True)
    a = p.parse_args()
    if a.mode == "poll":
        result = poll(a.url, a.job, a.seconds)
    else:
        try:
            import uvloop
            runner = uvloop.run
        except ImportError:
            runner = asyncio.run
        result = runner(follow(a.url, a.jobs.split(","), a.followers, a.timeout,
                               a.open_at_once))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
