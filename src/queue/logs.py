"""How agentq's processes log: text for people at a terminal, or one JSON object a line.

`AGENTQ_LOG_FORMAT=json` (CONTRACT §9) makes every line a JSON object with `time`,
`level`, `logger` and `message`, plus, where they apply, `job_id`, `attempt`, `worker`
and `trace_id`, any `extra=` fields of the call, and `exception` with the traceback.
The job fields come from the call's `extra=`, or from the attempt the line is logged in
(`job_scope`, set by the worker around each attempt, so a task's own loggers and the
LLM client's lines carry them too), or from the process (`bind_process`: the worker id).
uvicorn's loggers, its access log included, keep their handlers and get the JSON
formatter; an access line also carries `client`, `method`, `path` and `status`.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

import orjson

from . import tracing

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")

#: the fields of the attempt a line is logged in (job_id, attempt, worker, trace_id)
_job_fields: ContextVar[dict[str, Any] | None] = ContextVar("agentq_job_fields", default=None)
_process_fields: dict[str, Any] = {}

_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "color_message", "taskName"}


@contextmanager
def job_scope(**fields: Any) -> Iterator[None]:
    """Lines logged inside the block (and in tasks and threads it starts) carry `fields`."""
    token = _job_fields.set({k: v for k, v in fields.items() if v is not None})
    try:
        yield
    finally:
        _job_fields.reset(token)


def bind_process(**fields: Any) -> None:
    """Fields every line of this process carries (the worker's id)."""
    _process_fields.update({k: v for k, v in fields.items() if v is not None})


def _iso(ts: float) -> str:
    ms = int(ts * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{ms:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record; see the module docstring for its fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update(_process_fields)
        out.update(_job_fields.get() or {})
        trace_id = tracing.current_trace_id()
        if trace_id:
            out["trace_id"] = trace_id
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                out[key] = value
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(
                record.args) == 5:
            client, method, path, _, status = record.args
            out.update(client=client, method=method, path=path, status=status)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(out, default=str).decode()


def formatter(fmt: LogFormat) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)


def configure(fmt: LogFormat = "text", level: int | str = "INFO") -> None:
    """A process's own logging (the worker's): one handler on stderr, in `fmt`."""
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)


def use_json_under_uvicorn() -> None:
    """JSON lines in a process uvicorn runs: its loggers' handlers (the access log's too,
    unless it is switched off) get the JSON formatter, and agentq's loggers, which
    uvicorn leaves alone, a JSON handler on the root at uvicorn's level."""
    for name in UVICORN_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(logging.getLogger("uvicorn.error").getEffectiveLevel())
