"""`python -m src.worker`: run one worker process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import threading

from redis.exceptions import AuthenticationError

from src.queue.settings import get_settings

from .registry import load_task_modules
from .runtime import TASK_THREAD_PREFIX, Worker, install_signal_handlers


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m src.worker", description="Run an agentq worker.")
    p.add_argument("--queues", default="default", help="comma-separated, highest priority first")
    p.add_argument("--concurrency", type=int, default=8, help="jobs run at once (default 8)")
    p.add_argument("--tasks", default="", help="extra comma-separated task modules to import")
    p.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    p.add_argument("--max-jobs", type=int, default=None,
                   help="finish this many jobs, then exit cleanly (a supervisor starts a fresh one)")
    p.add_argument("--id", default=None, help="worker id (default host-pid-random)")
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


async def _main(args: argparse.Namespace) -> int:
    settings = get_settings()
    modules = [m for m in (*settings.task_module_list, *args.tasks.split(",")) if m.strip()]
    registry = load_task_modules([m.strip() for m in modules])
    worker = Worker(settings, registry, queues=[q.strip() for q in args.queues.split(",") if q.strip()],
                    concurrency=args.concurrency, burst=args.burst, max_jobs=args.max_jobs,
                    worker_id=args.id)
    install_signal_handlers(worker)
    try:
        await worker.run()
    except AuthenticationError as exc:
        logging.getLogger("agentq.worker").error("Redis refused the credentials: %s", exc)
        return 2
    return 1 if worker.crashed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop
    except ImportError:
        code = asyncio.run(_main(args))
    else:
        code = uvloop.run(_main(args))
    hung = [t for t in threading.enumerate() if t.name.startswith(TASK_THREAD_PREFIX)]
    if hung:  # the interpreter would join them forever
        logging.getLogger("agentq.worker").warning(
            "%d task thread(s) still running; exiting without them", len(hung))
        logging.shutdown()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
