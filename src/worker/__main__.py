"""`python -m src.worker`: run one worker process.

Its log shows REDIS_URL with the password masked; a Redis that refuses the password
is logged as an authentication failure and the process exits with code 2. Its lines
are text, or JSON with `AGENTQ_LOG_FORMAT=json`; with `OTEL_TRACES_EXPORTER` set (and the
`otel` extra installed) it records spans, flushed when it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
import threading

from pydantic import ValidationError

from src.queue import logs, tracing
from src.queue.errors import InvalidSchedule, RedisAuthFailed, is_auth_failure
from src.queue.redact import redact_url
from src.queue.registry import load_task_modules
from src.queue.settings import get_settings

from .llm.settings import LLMSettings
from .runtime import TASK_THREAD_PREFIX, Worker, install_signal_handlers

log = logging.getLogger("agentq.worker")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m src.worker", description="Run an agentq worker.")
    p.add_argument("--queues", default="default", help="comma-separated, highest priority first")
    p.add_argument("--concurrency", type=int, default=8, help="jobs run at once (default 8)")
    p.add_argument("--tasks", default="", help="extra comma-separated task modules to import")
    p.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    p.add_argument("--max-jobs", type=int, default=None,
                   help="finish this many jobs, then exit cleanly (a supervisor starts a new one)")
    p.add_argument("--id", default=None, help="worker id (default host-pid-random)")
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


async def _main(args: argparse.Namespace) -> int:
    try:
        settings = get_settings()
        LLMSettings()  # checked at start too: a bad LLM_* or AGENTQ_LLM_PRICES names itself
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            log.error("invalid setting %s: %s", ".".join(map(str, err["loc"])), err["msg"])
        return 2
    modules = [m for m in (*settings.task_module_list, *args.tasks.split(",")) if m.strip()]
    registry = load_task_modules([m.strip() for m in modules])
    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    try:
        worker = Worker(settings, registry, queues=queues, concurrency=args.concurrency,
                        burst=args.burst, max_jobs=args.max_jobs, worker_id=args.id)
    except InvalidSchedule as exc:  # a name used twice, a payload its task refuses
        log.error("invalid schedule: %s", exc)
        return 2
    install_signal_handlers(worker)
    logs.bind_process(worker=worker.id)
    url = redact_url(settings.redis_url)
    log.info("worker %s: Redis at %s, namespace %s", worker.id, url, settings.namespace)
    _tune_collector()
    try:
        await worker.run()
    except Exception as exc:
        if not is_auth_failure(exc):
            log.error("worker %s: stopped by an error (Redis at %s)", worker.id, url)
            raise
        log.error("worker %s: authentication failed: %s at %s",
                  worker.id, RedisAuthFailed.MESSAGE, url)
        return 2
    return 1 if worker.crashed else 0


#: The cyclic collector's thresholds while the worker runs (Python's are 700, 10, 10).
GC_THRESHOLDS = (20_000, 20, 20)


def _tune_collector() -> None:
    """Fewer passes of the cyclic garbage collector, none over what start-up loaded.

    A thousand running jobs (their tasks, contexts, HTTP connections and parsers) are
    hundreds of thousands of live objects: each full pass over them held the event loop
    for 120-150 ms, every job's events waiting meanwhile (bench/agent_load.py). As the API
    does (src/api/streams.py): what is loaded now is moved out of the collector's sight.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _log_format() -> logs.LogFormat:
    """AGENTQ_LOG_FORMAT, before the settings are checked (`_main` reports them if invalid)."""
    try:
        return get_settings().log_format
    except ValidationError:
        return "text"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logs.configure(_log_format(), args.log_level)
    stop_tracing = tracing.configure("agentq-worker")
    try:
        try:
            import uvloop
        except ImportError:
            code = asyncio.run(_main(args))
        else:
            code = uvloop.run(_main(args))
    finally:
        if stop_tracing is not None:
            stop_tracing()
    hung = [t for t in threading.enumerate() if t.name.startswith(TASK_THREAD_PREFIX)]
    if hung:  # the interpreter would join them forever
        log.warning("%d task thread(s) still running; exiting without them", len(hung))
        logging.shutdown()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
