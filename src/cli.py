"""The `agentq` command line: submit jobs, read their status, see the queues, handle dead jobs.

It talks to Redis directly through the queue client (env REDIS_URL, AGENTQ_NAMESPACE).
Whatever it prints shows REDIS_URL with its password masked; a wrong or missing
password is reported as such, with the exit code of an unavailable Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any, TextIO

from pydantic import ValidationError

from src.queue import TERMINAL, Client, RedisUnavailable, get_settings
from src.queue.errors import (
    InvalidPayload,
    JobConflict,
    JobNotFound,
    RedisAuthFailed,
    UnknownTask,
)
from src.queue.redact import redact_url, scrub, url_secrets

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_NOT_FOUND = 0, 1, 2, 3, 4
_BAR = 30


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _print_json(obj: Any, out: TextIO = sys.stdout) -> None:
    out.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def _bar(progress: int, status: str, message: str | None) -> str:
    filled = _BAR * max(0, min(100, progress)) // 100
    text = f"[{'#' * filled}{'.' * (_BAR - filled)}] {progress:3d}% {status}"
    return text + (f" - {message}" if message else "")


class _Progress:
    """A one-line progress bar on a terminal; one line per change otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last = ""

    def show(self, progress: int, status: str, message: str | None) -> None:
        line = _bar(progress, status, message)
        if line == self.last:
            return
        self.last = line
        if self.tty:
            self.stream.write("\r\x1b[2K" + line[:200])
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty and self.last:
            self.stream.write("\n")
            self.stream.flush()


async def _follow(client: Client, job_id: str, timeout_s: float | None) -> dict[str, Any] | None:
    """Show the job's progress until it ends (or `timeout_s`); its latest record.

    The job's events come through the client's event hub (src/queue/fanout.py); each
    one, or a second without any, shows the record again.
    """
    bar = _Progress(sys.stderr)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        async with client.hub.subscribe(job_id, after=None) as events:
            record = await client.get(job_id)
            while record is not None:
                bar.show(record.get("progress", 0), record["status"], record.get("message"))
                if record["status"] in TERMINAL:
                    return record
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return record
                await events.next(1.0 if left is None else min(left, 1.0))
                record = await client.get(job_id)
            return None
    finally:
        bar.done()


async def _submit(client: Client, args: argparse.Namespace) -> int:
    from src.queue.registry import load_task_modules

    try:
        payload = json.loads(args.payload)
    except json.JSONDecodeError as exc:
        sys.stderr.write(f"agentq: --payload is not JSON: {exc}\n")
        return EXIT_USAGE
    if not isinstance(payload, dict):
        sys.stderr.write("agentq: --payload must be a JSON object\n")
        return EXIT_USAGE
    registry = load_task_modules(get_settings().task_module_list)
    try:
        registry.validate(args.type, payload)
    except UnknownTask:
        sys.stderr.write(
            f"agentq: unknown task type {args.type!r}; known: {', '.join(registry.names())}\n"
        )
        return EXIT_USAGE
    except InvalidPayload as exc:
        for err in exc.validation_error.errors(include_url=False):
            where = ".".join(str(p) for p in ("payload", *err["loc"]))
            sys.stderr.write(f"agentq: {where}: {err['msg']}\n")
        return EXIT_USAGE
    task = registry.get(args.type)
    options: dict[str, Any] = {"queue": args.queue, "delay_s": args.delay}
    if task is not None:
        options |= {"max_attempts": task.max_attempts, "timeout_s": task.timeout_s}
    if args.max_attempts:
        options["max_attempts"] = args.max_attempts
    if args.idempotency_key:
        options["idempotency_key"] = args.idempotency_key
    job = await client.enqueue(args.type, payload, **options)
    if args.wait is None:
        _print_json(job.record)
        return EXIT_OK
    sys.stderr.write(f"agentq: job {job.id}\n")
    timeout = None if args.wait == float("inf") else args.wait
    record = await _follow(client, job.id, timeout) or job.record
    _print_json(record)
    if record["status"] == "succeeded":
        return EXIT_OK
    return EXIT_FAILED if record["status"] in TERMINAL else EXIT_OK


async def _status(client: Client, args: argparse.Namespace) -> int:
    record = await client.get(args.id)
    if record is None:
        sys.stderr.write(f"agentq: job {args.id} not found\n")
        return EXIT_NOT_FOUND
    _print_json(record)
    return EXIT_OK


async def _stats(client: Client, args: argparse.Namespace) -> int:
    queues = await client.queues()
    if args.json:
        _print_json(queues)
        return EXIT_OK
    cols = (
        "queued",
        "running",
        "enqueued",
        "succeeded",
        "failed",
        "retried",
        "recovered",
        "cancelled",
    )
    width = max([5, *(len(q["name"]) for q in queues["queues"])])
    _out(f"{'queue':<{width}} " + " ".join(f"{c:>9}" for c in cols))
    for q in queues["queues"]:
        _out(f"{q['name']:<{width}} " + " ".join(f"{q[c]:>9}" for c in cols))
    _out(f"scheduled {queues['scheduled']}  waiting {queues.get('waiting', 0)}  "
         f"dead {queues['dead']}  workers {queues['workers']}")
    return EXIT_OK


async def _signal(client: Client, args: argparse.Namespace) -> int:
    try:
        data = json.loads(args.data)
    except json.JSONDecodeError as exc:
        sys.stderr.write(f"agentq: --data is not JSON: {exc}\n")
        return EXIT_USAGE
    try:
        record = await client.signal(args.id, args.name, data)
    except JobNotFound:
        sys.stderr.write(f"agentq: job {args.id} not found\n")
        return EXIT_NOT_FOUND
    except JobConflict as exc:
        sys.stderr.write(f"agentq: {exc}\n")
        return EXIT_FAILED
    _print_json(record)
    return EXIT_OK


async def _dead(client: Client, args: argparse.Namespace) -> int:
    if args.action == "list":
        _print_json(await client.dead(limit=args.limit))
        return EXIT_OK
    moved = await client.requeue_dead(ids=args.ids or None)
    _out(f"requeued {moved} job(s)")
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentq",
        description="Submit and inspect agentq jobs in Redis ($REDIS_URL, $AGENTQ_NAMESPACE).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("submit", help="enqueue a job and print its record")
    p.add_argument("type", help="task type, e.g. add, sleep, generate_article")
    p.add_argument("--payload", default="{}", help="the task's input as a JSON object")
    p.add_argument("--queue", default="default")
    p.add_argument(
        "--delay", type=float, default=0, metavar="SECONDS", help="run no earlier than this"
    )
    p.add_argument("--max-attempts", type=int, default=None)
    p.add_argument("--idempotency-key", default=None)
    p.add_argument(
        "--wait",
        type=float,
        nargs="?",
        const=float("inf"),
        default=None,
        metavar="SECONDS",
        help="follow the job with a progress bar until it ends (or SECONDS pass)",
    )
    p.set_defaults(run=_submit)

    p = sub.add_parser("status", help="print a job's record")
    p.add_argument("id")
    p.set_defaults(run=_status)

    p = sub.add_parser("signal", help="send a signal to a job waiting in ctx.wait_for(NAME)")
    p.add_argument("id")
    p.add_argument("name", help="the signal's name, e.g. approve")
    p.add_argument("--data", default="null", help="the signal's JSON body (default: null)")
    p.set_defaults(run=_signal)

    p = sub.add_parser("stats", help="counts per queue, scheduled, dead, workers")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=_stats)

    p = sub.add_parser("dead", help="list or requeue dead-lettered jobs")
    p.add_argument("action", choices=("list", "requeue"))
    p.add_argument("ids", nargs="*", help="requeue only these job ids (default: all)")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(run=_dead)

    p = sub.add_parser("db", help="the history database ($AGENTQ_DATABASE_URL)")
    p.add_argument("action", choices=("upgrade", "current"),
                   help="upgrade: apply the migrations; current: print the schema revision")
    p.set_defaults(run=None)
    return parser


def _db(args: argparse.Namespace) -> int:
    """`agentq db upgrade|current`: needs the database only, not Redis."""
    from sqlalchemy.exc import SQLAlchemyError

    from src.history import History

    url = get_settings().database_url
    if not url:
        sys.stderr.write("agentq: AGENTQ_DATABASE_URL is not set: there is no history database\n")
        return EXIT_USAGE
    history = History(url)
    try:
        if args.action == "upgrade":
            history.upgrade()
        _out(f"history database {redact_url(url)} at revision {history.revision()}")
        return EXIT_OK
    except SQLAlchemyError as exc:
        sys.stderr.write(f"agentq: history database {redact_url(url)} unavailable: "
                         f"{type(exc).__name__}\n")
        return EXIT_UNAVAILABLE
    finally:
        history.close()


async def _main(args: argparse.Namespace) -> int:
    try:
        settings = get_settings()
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(p) for p in err["loc"])
            sys.stderr.write(f"agentq: invalid setting {where}: {err['msg']}\n")
        return EXIT_USAGE
    client = Client.from_url(
        settings.redis_url,
        settings.namespace,
        settings=settings,
        socket_connect_timeout=2.0,
        socket_timeout=5.0,
    )
    try:
        return await args.run(client, args)
    except RedisAuthFailed:
        sys.stderr.write(
            f"agentq: authentication failed: {RedisAuthFailed.MESSAGE} "
            f"at {redact_url(settings.redis_url)}\n"
        )
        return EXIT_UNAVAILABLE
    except RedisUnavailable as exc:
        sys.stderr.write(
            f"agentq: Redis at {redact_url(settings.redis_url)} is unavailable: "
            f"{scrub(str(exc), url_secrets(settings.redis_url))}\n"
        )
        return EXIT_UNAVAILABLE
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "db":
        return _db(args)
    try:
        return asyncio.run(_main(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
