"""The event stream of `GET /jobs/{id}/events`: reading a job's events, and writing them.

Two ways to read, one writer:

- `follow` (the default) reads through the process's event hub (`src/queue/fanout.py`):
  no Redis connection per stream, one read per job for all of its followers.
- `follow_per_stream` blocks in an XREAD of its own on the shared pool, one per open
  stream: the design before the hub, kept so that the followers benchmark can measure
  both (`create_app(events_fanout=False)`).

Both send each event as it is stored (`data:` its JSON, `id:` its stream id) and end
after the terminal status event. When nothing comes for `IDLE_S` they read the record:
gone (expired) ends the stream; ended, with its terminal event read before (a resumed
stream) or trimmed, sends that final state again and ends. While Redis is away an open
stream waits and goes on when it is back.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

import orjson
from prometheus_client import Gauge
from redis import exceptions as redis_errors
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from src.queue import TERMINAL, Client, RedisUnavailable
from src.queue.fanout import EventHub, StreamEvent

#: Without news for this long, read the record: has the job ended, or expired?
IDLE_S = 2.0
#: How long one XREAD of `follow_per_stream` blocks; below the client's socket timeout.
EVENTS_BLOCK_MS = 2_000
#: A comment line after this long without an event, for proxies that close idle responses.
KEEPALIVE_S = 15.0
KEEPALIVE = b": ping\n\n"
#: Pause before trying again while Redis does not answer.
UNAVAILABLE_RETRY_S = 1.0
#: The cyclic collector's thresholds while the app serves (Python's are 700, 10, 10).
GC_THRESHOLDS = (20_000, 20, 20)


def tune_collector() -> Callable[[], None]:
    """Fewer passes of the cyclic garbage collector while the app serves; returns what
    puts it back as it was.

    Thousands of open streams are hundreds of thousands of live objects, and each full
    pass over them held every stream up: with 5,000 viewers on one process the events'
    delivery lag p99 and `GET /jobs/{id}`'s were two to four times worse with Python's
    thresholds (docs/performance.md). What the app holds at start (modules, models) is
    moved out of the collector's sight (`gc.freeze`).
    """
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)

    def restore() -> None:
        gc.set_threshold(*before)
        gc.unfreeze()

    return restore


def sse(event_id: str | None, data: bytes) -> bytes:
    """One event in the `text/event-stream` format; `data` is JSON (one line)."""
    if event_id is None:
        return b"data: " + data + b"\n\n"
    return b"data: " + data + b"\nid: " + event_id.encode() + b"\n\n"


def status_event(record: dict[str, Any]) -> dict[str, Any]:
    """The status event that a job's record stands for (sent again once it has ended)."""
    return {
        "type": "status",
        "status": record["status"],
        "progress": record.get("progress", 0),
        "message": record.get("message"),
        "attempt": record.get("attempt"),
        "error": record.get("error"),
        "at": record.get("finished_at"),
    }


def _final(record: dict[str, Any], after: str) -> bytes:
    return sse(after if after != "0-0" else None, orjson.dumps(status_event(record)))


async def final_only(record: dict[str, Any], after: str) -> AsyncGenerator[bytes, None]:
    """A job that only the history still holds: its final status event, then the end."""
    yield _final(record, after)


def _ended(record: dict[str, Any] | None) -> bool:
    return record is not None and record["status"] in TERMINAL


def is_unavailable(exc: Exception) -> bool:
    return isinstance(
        exc, RedisUnavailable | redis_errors.ConnectionError | redis_errors.TimeoutError
    )


def _encode(events: list[StreamEvent]) -> tuple[bytes, bool]:
    """The events as one chunk, up to the terminal one; and whether it was there."""
    out = []
    for e in events:
        out.append(b"data: " + e.raw + b"\nid: " + e.id.encode() + b"\n\n")
        if e.terminal:
            return b"".join(out), True
    return b"".join(out), False


async def follow(hub: EventHub, record: dict[str, Any],
                 after: str) -> AsyncGenerator[bytes, None]:
    """The job's events after the id `after`, through the hub, encoded. Its reads of the
    record go through the hub too: the followers of one job share them."""
    job_id = record["id"]
    quiet = _Quiet()
    async with hub.subscribe(job_id, after) as sub:
        wait_s = 0.0 if _ended(record) else IDLE_S
        while True:
            current = None
            try:
                events = await sub.next(wait_s)
                if not events:
                    current = await hub.record(job_id)
                    if _ended(current):
                        # Its last events are written with the record: take any that the
                        # hub has not read yet from the stream.
                        events = await sub.read_stream()
            except Exception as exc:  # Redis went away mid-stream: keep the stream, try again
                if not is_unavailable(exc):
                    raise
                await asyncio.sleep(UNAVAILABLE_RETRY_S)
                continue
            if events:
                chunk, done = _encode(events)
                quiet.reset()
                yield chunk
                if done:
                    return
                wait_s = 0.0 if _ended(current) else IDLE_S
                continue
            if current is None:  # expired, or Redis came back without it
                return
            if _ended(current):
                yield _final(current, sub.last_id)
                return
            wait_s = IDLE_S
            if quiet.too_long():
                yield KEEPALIVE


async def follow_per_stream(client: Client, record: dict[str, Any],
                            after: str) -> AsyncGenerator[bytes, None]:
    """The job's events after the id `after`, each stream blocking in its own XREAD."""
    job_id = record["id"]
    quiet = _Quiet()
    while True:
        try:
            events = await client.events(job_id, after=after, block_ms=EVENTS_BLOCK_MS)
            current = None if events else await client.get(job_id)
        except Exception as exc:  # Redis went away mid-stream: keep the stream, try again
            if not is_unavailable(exc):
                raise
            await asyncio.sleep(UNAVAILABLE_RETRY_S)
            continue
        for event_id, event in events:
            after = event_id
            quiet.reset()
            yield sse(event_id, orjson.dumps(event))
            if event.get("type") == "status" and event.get("status") in TERMINAL:
                return
        if events:
            continue
        if current is None:
            return
        if _ended(current):
            yield _final(current, after)
            return
        if quiet.too_long():
            yield KEEPALIVE


class _Quiet:
    """How long a stream has sent nothing: a comment line after `KEEPALIVE_S` of it."""

    __slots__ = ("since",)

    def __init__(self) -> None:
        self.since = time.monotonic()

    def reset(self) -> None:
        self.since = time.monotonic()

    def too_long(self) -> bool:
        if time.monotonic() - self.since < KEEPALIVE_S:
            return False
        self.reset()
        return True


class EventStream(StreamingResponse):
    """A `text/event-stream` response of encoded events, counted in `gauge` while open.

    Events are written as the iterator yields them, with no per-event work beyond the
    write: with thousands of open streams that is what counts. (FastAPI's own SSE route,
    a generator with `response_class=EventSourceResponse`, builds a model, JSON-encodes
    and passes through two tasks every event of every stream.) The media type is set per
    response, not on the class, so that the route's OpenAPI entry is the one it documents.
    """

    media_type = None

    def __init__(self, content: AsyncGenerator[bytes, None], gauge: Gauge | None = None,
                 status_code: int = 200) -> None:
        self._content = content
        super().__init__(content, status_code, media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.gauge = gauge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.gauge is not None:
            self.gauge.inc()
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self.gauge is not None:
                self.gauge.dec()
            # The reader gone mid-write leaves the iterator open: close it (and with it
            # the subscription) now rather than when it is collected.
            await self._content.aclose()
