"""What one follower of a job holds: its subscription to the event hub, and the hub's
record of one followed job (`Feed`). The hub itself, its readers and its batched reads
are in `fanout.py`."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from .models import TERMINAL

#: Events one subscriber may hold unread; also the page of its own reads of the stream.
BUFFER = 256
#: Latest events kept per followed job: a follower that joins (or falls behind) within
#: them catches up from memory instead of reading the stream.
HISTORY = 256


class StreamSource(Protocol):
    """What a subscription needs of its hub: reads of a stream, and the counters."""

    stats: HubStats

    async def read(self, key: bytes, after: str, count: int) -> list[StreamEvent]: ...


class HubClosed(RuntimeError):
    """The hub was closed (its process is shutting down): the subscription is over."""


Position = tuple[int, int]


def position(stream_id: str) -> Position:
    """A stream id (`<ms>-<seq>`) as a pair that sorts as the stream does."""
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One entry of a job's event stream: its id, the JSON as stored, and whether it is
    the status event that ends the job."""

    id: str
    position: Position
    raw: bytes
    terminal: bool

    @property
    def data(self) -> dict[str, Any]:
        """The event's JSON, read (each time: the hub keeps only the bytes)."""
        data = orjson.loads(self.raw)
        return data if isinstance(data, dict) else {}

    @classmethod
    def from_entry(cls, entry_id: bytes | str, fields: dict[bytes, bytes]) -> StreamEvent:
        sid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        raw = fields.get(b"d") or b"{}"
        data = orjson.loads(raw)
        terminal = (isinstance(data, dict) and data.get("type") == "status"
                    and data.get("status") in TERMINAL)
        return cls(sid, position(sid), raw, terminal)


@dataclass(slots=True)
class HubStats:
    """Counters of one hub, for tests and the benchmark."""

    reads: int = 0  # XREAD calls that returned
    events: int = 0  # events those calls brought
    stream_reads: int = 0  # a subscriber's own reads of a stream (start, catching up)
    resumed: int = 0  # subscribers that overflowed their buffer and were resumed
    errors: int = 0  # failed XREAD calls


class Feed:
    """One followed job: where the hub's reads of its stream are, its latest events, and
    its subscribers."""

    __slots__ = ("job_id", "key", "pos", "pos_id", "subs", "reader", "history",
                 "history_from")

    def __init__(self, job_id: str, key: str, after: str, reader: object) -> None:
        self.job_id, self.key, self.reader = job_id, key.encode(), reader
        self.pos_id, self.pos = after, position(after)
        self.subs: set[Subscription] = set()
        #: every event after `history_from` up to `pos`, as the hub read them
        self.history: deque[StreamEvent] = deque()
        self.history_from = self.pos

    def read(self, events: list[StreamEvent]) -> None:
        """The hub's read of this stream: remember the events, hand them out."""
        history = self.history
        for e in events:
            if len(history) == HISTORY:
                self.history_from = history.popleft().position
            history.append(e)
        self.pos, self.pos_id = events[-1].position, events[-1].id
        for sub in tuple(self.subs):
            sub._push(events)

    def since(self, after: Position) -> list[StreamEvent] | None:
        """The events after `after` from memory; None when they are not all there."""
        if after < self.history_from:
            return None
        out = []
        for e in reversed(self.history):
            if e.position <= after:
                break
            out.append(e)
        out.reverse()
        return out


class Subscription:
    """One follower of one job's events; made by `EventHub.subscribe`."""

    __slots__ = ("job_id", "last_id", "_hub", "_feed", "_returned", "_cursor", "_buffer",
                 "_behind", "_waiter", "_closed")

    def __init__(self, hub: StreamSource, feed: Feed, after: str) -> None:
        self.job_id = feed.job_id
        #: the id of the last event returned (or the one the subscription started after)
        self.last_id = after
        self._hub, self._feed = hub, feed
        self._returned = self._cursor = position(after)  # returned; returned or buffered
        self._buffer: list[StreamEvent] = []
        self._behind = True  # reads the stream by itself until it has caught up
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    async def next(self, timeout_s: float) -> list[StreamEvent]:
        """The events after the last ones returned, oldest first, waiting up to `timeout_s`
        for one; [] when none came.

        Raises `RedisUnavailable` when it had to read the stream and Redis did not answer
        (call again: it goes on from the same place) and `HubClosed` once the hub is closed.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            if self._buffer:
                return self._hand_out(self._buffer)
            if self._closed:
                raise HubClosed("the event hub is closed")
            if self._behind:
                if events := await self.read_stream(recent=True):
                    return events
                if self._behind and not (events := await self.read_stream()):
                    # The hub read events that the stream no longer has (it expired or
                    # was emptied): nothing to catch up with.
                    self._cursor = max(self._cursor, self._feed.pos)
                    self._behind = False
                if events:
                    return events
                continue
            left = deadline - loop.time()
            if left <= 0:
                return []
            await self._sleep(loop, left)
            if not (self._buffer or self._behind or self._closed):
                return []  # woken by the timer: nothing came

    async def read_stream(self, *, recent: bool = False) -> list[StreamEvent]:
        """The events after the last ones returned, read from the stream itself rather than
        waited for: what a resumed or lagging follower missed, or what the hub has not read
        yet (a follower that learnt from the record that the job ended). `recent`: from the
        latest events the hub keeps, when they reach back far enough."""
        rows = self._feed.since(self._returned) if recent else None
        if rows is None:
            rows = await self._hub.read(self._feed.key, self.last_id, BUFFER)
        # Events the hub handed over meanwhile follow the rows without a gap.
        if rows:
            last = rows[-1].position
            events = rows + [e for e in self._buffer if e.position > last]
        else:
            events = self._buffer
        if self._behind and max(self._cursor, events[-1].position if events else
                                self._cursor) >= self._feed.pos:
            self._behind = False
        return self._hand_out(events) if events else []

    def _hand_out(self, events: list[StreamEvent]) -> list[StreamEvent]:
        self._buffer = []
        last = events[-1]
        self._returned, self.last_id = last.position, last.id
        self._cursor = max(self._cursor, last.position)
        return events

    def _push(self, events: list[StreamEvent]) -> None:
        """From the hub's read: keep the events this subscriber has not had (or, past its
        buffer, let it read the stream by itself from where it is)."""
        if self._behind or self._closed:
            return
        if events[0].position <= self._cursor:
            events = [e for e in events if e.position > self._cursor]
            if not events:
                return
        if len(self._buffer) + len(events) > BUFFER:
            self._behind = True
            self._hub.stats.resumed += 1
        else:
            self._buffer.extend(events)
            self._cursor = events[-1].position
        self._wake()

    def _close(self) -> None:
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _sleep(self, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(seconds, _resolve, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
