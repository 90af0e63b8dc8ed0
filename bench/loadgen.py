"""A small HTTP/1.1 load generator: keep-alive connections on asyncio streams.

    python -m bench.loadgen --url http://127.0.0.1:8000/jobs --method POST \
        --body '{"type": ...}' --connections 16 --duration 5

Prints JSON: {"rps", "p50_ms", "p99_ms", "requests", "errors"}. It runs in its own
process, beside the server under test; on a small machine it competes with the
server for CPU, so `wrk` is used instead when installed (bench/http_bench.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


async def _connection(host: str, port: int, request: bytes, stop_at: float,
                      warm_until: float, latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            t1 = time.perf_counter()
            if t0 >= warm_until:
                latencies.append(t1 - t0)
                if status >= 400:
                    errors.append(status)
    finally:
        writer.close()


async def run(url: str, method: str, body: str, connections: int, duration: float,
              warmup: float) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    payload = body.encode()
    head = f"{method} {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n"
    if payload:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    request = head.encode() + b"\r\n" + payload
    start = time.perf_counter()
    warm_until, stop_at = start + warmup, start + warmup + duration
    latencies: list[float] = []
    errors: list[int] = []
    await asyncio.gather(*(
        _connection(host, port, request, stop_at, warm_until, latencies, errors)
        for _ in range(connections)
    ))
    latencies.sort()
    n = len(latencies)

    def pct(q: float) -> float:
        return latencies[min(n - 1, int(q * n))] * 1000 if n else float("nan")

    return {"rps": n / duration, "p50_ms": pct(0.50), "p99_ms": pct(0.99), "requests": n,
            "errors": len(errors)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--method", default="GET")
    p.add_argument("--body", default="")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=1.0)
    a = p.parse_args()
    try:
        import uvloop
        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    result = runner(run(a.url, a.method, a.body, a.connections, a.duration, a.warmup))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
