"""The job history's cost: processing throughput of one worker process with the history
off, on SQLite and on PostgreSQL, and the archive lag (a job's end -> its row visible in
SQL) at that rate.

    .venv/bin/python -m bench.history_bench sqlite --url redis://127.0.0.1:6379/0 --jobs 10000

Each run: N `bench_noop` jobs are enqueued and hidden while one worker (default
concurrency) starts with AGENTQ_DATABASE_URL set for the mode; then they appear at
once and the worker runs them at its full rate, its archiver (in the same process)
moving them to SQL. Processing is N / (first claim -> N succeeded), as in the
throughput scenario of bench/systems/common.py.

Lag: every ~20 ms this process reads max(archived_at) from the table. The archiver
writes one batch at a time (one transaction, archived_at rising), so a row is visible
from the first read whose max reaches its archived_at; its lag is that read's time
minus the job's finished_at. The reads cost the database a little; the resolution is
the read period. PostgreSQL: a private server (tests/history/postgres.py) with its
default durability (fsync and synchronous_commit on); SQLite: a file in /tmp (WAL).
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aredis
from sqlalchemy import func, select

import bench.agentq_tasks  # noqa: F401  (registers bench_noop for the client)
from bench.systems.common import PAYLOAD, Workers, _python_env, percentile, wait_ready
from src.history import History
from src.history.schema import jobs
from src.queue import Client, Keys

BATCH = 100
POLL_S = 0.02
STAGING = "bench:staging"


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Database:
    """The history database of a mode: its URL, and what to stop afterwards."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.dir = Path(tempfile.mkdtemp(prefix=f"bench-history-{mode}-"))
        self.server: Any = None
        self.url = ""

    def __enter__(self) -> Database:
        if self.mode == "sqlite":
            self.url = f"sqlite:///{self.dir / 'history.db'}"
        elif self.mode == "postgres":
            from tests.history.postgres import PostgresServer, find_bin

            bin_dir = find_bin()
            if bin_dir is None:
                raise LookupError("PostgreSQL is not installed (apt-get install postgresql)")
            self.server = PostgresServer(bin_dir, durable=True).start()
            self.url = self.server.create_database("bench")
        if self.url:  # migrated before the worker starts: not part of the figure
            h = History(self.url)
            h.upgrade()
            h.close()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)


def _visible(history: History) -> tuple[datetime | None, int]:
    with history.engine.connect() as conn:
        newest, count = conn.execute(select(func.max(jobs.c.archived_at), func.count())
                                     .select_from(jobs)).one()
    return newest, int(count)


def _lags(history: History, reads: list[tuple[datetime, datetime]]) -> list[float]:
    """Seconds from each job's end to the first read that saw its row."""
    times = [t for t, _ in reads]
    newest: list[datetime] = []
    for _, m in reads:  # non-decreasing, whatever the reads' order
        newest.append(max(m, newest[-1]) if newest else m)
    with history.engine.connect() as conn:
        rows = conn.execute(select(jobs.c.finished_at, jobs.c.archived_at)).all()
    lags = []
    for finished, archived in rows:
        i = bisect.bisect_left(newest, archived)
        if i < len(times) and finished is not None:
            lags.append(max(0.0, (times[i] - finished).total_seconds()))
    return lags


async def run(args: argparse.Namespace) -> dict[str, Any]:
    n = args.jobs
    namespace = f"bh{uuid.uuid4().hex[:8]}"  # a fresh one each run
    keys = Keys(namespace)
    r = aredis.Redis.from_url(args.url)
    client = Client.from_url(args.url, namespace=namespace)
    out: dict[str, Any] = {"mode": args.mode, "jobs": n}
    try:
        with Database(args.mode) as db:
            batch = [{"type": "bench_noop", "payload": PAYLOAD, "max_attempts": 1}] * BATCH
            for _ in range(n // BATCH):
                await client.enqueue_many(batch)
            n = (n // BATCH) * BATCH
            queue = keys.queue("default")
            await r.rename(queue, STAGING)
            argv = [sys.executable, "-m", "src.worker", "--queues", "default",
                    "--tasks", "bench.agentq_tasks", "--log-level", "WARNING"]
            env = _python_env({"AGENTQ_DATABASE_URL": db.url, "AGENTQ_NAMESPACE": namespace,
                               "REDIS_URL": args.url})
            workers = Workers([argv], env, f"history-{args.mode}")
            history = History(db.url) if db.url else None
            workers.start()
            try:
                out["ready"] = await wait_ready(r, 1, workers)
                reads: list[tuple[datetime, datetime]] = []
                backlog = 0
                await r.rename(STAGING, queue)
                t0 = time.perf_counter()
                done_at = None
                deadline = time.monotonic() + args.timeout
                while time.monotonic() < deadline:
                    if done_at is None:
                        done = int(await r.hget(keys.stats, "default:succeeded") or 0)
                        if done >= n:
                            done_at = time.perf_counter()
                            out["jobs_per_s"] = n / (done_at - t0)
                            if history is None:
                                break
                    if history is not None:
                        newest, count = await asyncio.to_thread(_visible, history)
                        if newest is not None:
                            reads.append((_utcnow(), newest))
                        backlog = max(backlog, int(await r.llen(keys.archive)))
                        if done_at is not None and count >= n:
                            out["drained_s"] = round(time.perf_counter() - done_at, 3)
                            break
                    if not workers.alive():
                        raise RuntimeError("the worker exited")
                    await asyncio.sleep(POLL_S)
                if "jobs_per_s" not in out:
                    raise RuntimeError(f"not all jobs ran within {args.timeout} s")
                if history is not None:
                    if "drained_s" not in out:
                        raise RuntimeError(f"not all jobs archived within {args.timeout} s")
                    lags = _lags(history, reads)
                    out.update(lag_p50_ms=percentile(lags, 0.5) * 1000,
                               lag_p99_ms=percentile(lags, 0.99) * 1000,
                               lag_max_ms=max(lags) * 1000, rows=len(lags),
                               backlog_max=backlog, reads=len(reads))
            finally:
                workers.stop(grace_s=5)
                if history is not None:
                    history.close()
    finally:
        await client.close()
        await r.aclose()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=("off", "sqlite", "postgres"))
    p.add_argument("--url", required=True)
    p.add_argument("--jobs", type=int, default=10_000)
    p.add_argument("--timeout", type=float, default=120.0)
    args = p.parse_args()
    try:
        result = asyncio.run(run(args))
    except LookupError as exc:
        result = {"unsupported": str(exc)}
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
