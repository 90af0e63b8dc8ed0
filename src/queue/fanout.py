"""The event fan-out: one reader of the event streams of every followed job, per process.

Followers (an SSE stream of the API, `Client.wait`, the CLI's follow) subscribe here
instead of each blocking in an XREAD of its own. `EventHub` reads the streams of all
the jobs being followed with batched XREAD calls (many keys per call, a short block)
on a few connections of its own, and hands each event to every subscriber of that job.
So the followers of one job share one read, and the Redis connections of a process
stay bounded (`HUB_CONNECTIONS`) whatever the number of followers.

    hub = EventHub(client.redis, client.keys)
    async with hub.subscribe(job_id, after="0-0") as sub:
        events = await sub.next(timeout_s=2.0)       # [] when none came in time

A subscription first catches up by itself (a resumed follower gets what it missed):
from the latest events the hub keeps for that job (`HISTORY`) when they reach back to
its id, else from the stream. Then the hub's reads feed it. Its buffer is bounded
(`BUFFER` events): a follower that falls that far behind (a slow browser) does not hold
up the others and is not dropped either; it catches up again the same way, from its
last id, then is fed again.

The reads a follower makes by itself (its stream after an id, the job's record) are
gathered with those of every other follower asking at the same moment and sent as one
pipeline, and a read asked by many (1,000 viewers opening the same job) is sent once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis

from .connection import REDIS_DOWN
from .errors import atranslate_redis_errors
from .keys import Keys
from .models import TERMINAL

log = logging.getLogger("agentq.events")

#: How long one XREAD of the hub blocks when no followed job has news. A job followed
#: for the first time joins the next call: its first events wait up to this long.
READ_BLOCK_MS = 100
#: Events read per stream per XREAD call.
READ_COUNT = 100
#: Events one subscriber may hold unread; also the page of its own reads of the stream.
BUFFER = 256
#: Latest events kept per followed job: a follower that joins (or falls behind) within
#: them catches up from memory instead of reading the stream.
HISTORY = 256
#: XREAD connections of one hub, and how many streams one of them reads before the next
#: one starts.
READERS = 2
STREAMS_PER_READER = 1_000
#: Every Redis connection of one hub: its readers, and one for the followers' own reads
#: (sent together, see `_Batch`) and one to spare.
HUB_CONNECTIONS = READERS + 2
#: Reads sent in one pipeline at most.
BATCH_MAX = 500
#: Pause after a failed read (Redis restarting); the followers keep their place.
RETRY_S = 0.5
_POOL_WAIT_S = 10.0
#: Keys the pool adds to its connections' arguments itself: not copied to the hub's own.
_POOL_OWNED = ("himport_registry", "maint_notifications_pool_handler", "event_dispatcher")


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


class _Feed:
    """One followed job: where the hub's reads of its stream are, its latest events, and
    its subscribers."""

    __slots__ = ("job_id", "key", "pos", "pos_id", "subs", "reader", "history",
                 "history_from")

    def __init__(self, job_id: str, key: str, after: str, reader: _Reader) -> None:
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

    def __init__(self, hub: EventHub, feed: _Feed, after: str) -> None:
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


class _Reader:
    """One connection's XREAD loop over its share of the followed jobs."""

    def __init__(self, hub: EventHub) -> None:
        self.hub = hub
        self.feeds: dict[bytes, _Feed] = {}
        self.changed = asyncio.Event()
        self.task = asyncio.create_task(self.run(), name="agentq-events-reader")

    def add(self, feed: _Feed) -> None:
        self.feeds[feed.key] = feed
        self.changed.set()

    async def run(self) -> None:
        while not self.hub.closed:
            if not self.feeds:
                self.changed.clear()
                await self.changed.wait()
                continue
            sent = dict(self.feeds)
            try:
                reply = await self.hub.redis.xread(
                    {key: feed.pos_id for key, feed in sent.items()},
                    count=READ_COUNT, block=READ_BLOCK_MS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarting: the followers keep their place
                self.hub.stats.errors += 1
                if not isinstance(exc, REDIS_DOWN):
                    log.exception("reading the followed jobs' events failed")
                await asyncio.sleep(RETRY_S)
                continue
            self.hub.stats.reads += 1
            for key, entries in _streams(reply):
                feed = sent.get(key)
                # A feed dropped (or dropped and made again) during the call: not this read.
                if feed is None or self.feeds.get(key) is not feed or not entries:
                    continue
                events = [StreamEvent.from_entry(i, f) for i, f in entries]
                self.hub.stats.events += len(events)
                feed.read(events)


_GET, _XRANGE, _LAST = "get", "xrange", "last"


class _Batch:
    """Reads asked by followers, sent as one pipeline per turn of the event loop; a read
    asked again while it is waiting (the same record, a stream after the same id) is
    sent once and its answer shared."""

    def __init__(self, hub: EventHub) -> None:
        self.hub = hub
        self.pending: dict[tuple[Any, ...], asyncio.Future[Any]] = {}
        self.sending: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self.task: asyncio.Task[None] | None = None

    async def ask(self, op: tuple[Any, ...]) -> Any:
        future = self.pending.get(op)
        if future is None:
            if self.hub.closed:
                raise HubClosed("the event hub is closed")
            future = self.pending[op] = asyncio.get_running_loop().create_future()
            future.add_done_callback(_retrieved)
            if self.task is None:
                self.task = asyncio.create_task(self.run(), name="agentq-events-batch")
        # One asker going away (a closed stream) does not cancel the read for the others.
        return await asyncio.shield(future)

    async def run(self) -> None:
        try:
            await asyncio.sleep(0)  # the other followers of this turn ask too
            while self.pending:
                ops = list(self.pending.items())[:BATCH_MAX]
                for op, _ in ops:
                    del self.pending[op]
                self.sending = ops
                await self.send(ops)
        finally:
            self.task = None

    async def send(self, ops: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
        pipe = self.hub.redis.pipeline(transaction=False)
        for op, _ in ops:
            if op[0] == _GET:
                pipe.get(op[1])
            elif op[0] == _XRANGE:
                pipe.xrange(op[1], min="-" if op[2] == "0-0" else f"({op[2]}", count=op[3])
            else:
                pipe.xrevrange(op[1], count=1)
        try:
            async with atranslate_redis_errors():
                replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            for _, future in ops:
                if not future.done():
                    future.set_exception(exc)
            return
        for (op, future), reply in zip(ops, replies, strict=True):
            if future.done():
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            elif op[0] == _GET:
                future.set_result(None if reply is None else orjson.loads(reply))
            elif op[0] == _XRANGE:
                self.hub.stats.stream_reads += 1
                future.set_result([StreamEvent.from_entry(i, f) for i, f in reply])
            else:
                future.set_result(reply[0][0].decode() if reply else "0-0")

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.wait({self.task}, timeout=1)
        for future in (*self.pending.values(), *(f for _, f in self.sending)):
            if not future.done():
                future.set_exception(HubClosed("the event hub is closed"))
        self.pending.clear()


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark an error as seen: the askers may all have gone away."""
    if not future.cancelled():
        future.exception()


def _streams(reply: Any) -> Iterable[tuple[bytes, Any]]:
    """The (key, entries) pairs of an XREAD reply, RESP2 (a list) or RESP3 (a map)."""
    if not reply:
        return ()
    if isinstance(reply, dict):
        return ((k, v[0] if v and isinstance(v[0], list) else v) for k, v in reply.items())
    return ((k, v) for k, v in reply)


def _dedicated(redis: Any, connections: int) -> tuple[Any, bool]:
    """A client of the same server with a pool of its own of `connections`, and whether it
    is the hub's own (to close). A cluster client is shared: its pools are per node."""
    pool = getattr(redis, "connection_pool", None)
    if pool is None:
        return redis, False
    kwargs = {k: v for k, v in pool.connection_kwargs.items()
              if k not in _POOL_OWNED and not k.startswith("orig_")}
    own = aioredis.BlockingConnectionPool(
        connection_class=pool.connection_class, max_connections=connections,
        timeout=_POOL_WAIT_S, **kwargs)
    return aioredis.Redis.from_pool(own), True


class EventHub:
    """The event fan-out of one process over one namespace; see the module docstring.

    It opens at most `connections` Redis connections of its own (next to `redis`, whose
    server it reads). Safe to share between the tasks of one event loop; `close()` ends it.
    """

    def __init__(self, redis: Any, keys: Keys, *, connections: int = HUB_CONNECTIONS) -> None:
        self.keys = keys
        self.redis, self._owns_redis = _dedicated(redis, connections)
        self.stats = HubStats()
        self._batch = _Batch(self)
        self._feeds: dict[str, _Feed] = {}
        self._readers: list[_Reader] = []
        self._followers = 0
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def followers(self) -> int:
        """Open subscriptions."""
        return self._followers

    @property
    def followed_jobs(self) -> int:
        """Jobs with at least one subscription (one read each per XREAD)."""
        return len(self._feeds)

    @asynccontextmanager
    async def subscribe(self, job_id: str, after: str | None = "0-0"
                        ) -> AsyncIterator[Subscription]:
        """Follow `job_id` from after the stream id `after` ("0-0": from its first event;
        None: from now on, which reads the stream's last id, `RedisUnavailable` when Redis
        does not answer)."""
        if self._closed:
            raise HubClosed("the event hub is closed")
        if after is None:
            after = await self.last_id(job_id)
        sub = self._attach(job_id, after)
        try:
            yield sub
        finally:
            self._detach(sub)

    async def read(self, key: bytes, after: str, count: int) -> list[StreamEvent]:
        """Up to `count` events of the stream `key` after the id `after` (a list shared
        with whoever asked the same at the same moment: do not change it)."""
        events: list[StreamEvent] = await self._batch.ask((_XRANGE, key, after, count))
        return events

    async def record(self, job_id: str) -> dict[str, Any] | None:
        """The job's record (CONTRACT §3) or None, read together with the other followers'
        reads: shared with whoever asked at the same moment, so do not change it."""
        record: dict[str, Any] | None = await self._batch.ask(
            (_GET, self.keys.job(job_id).encode()))
        return record

    async def last_id(self, job_id: str) -> str:
        """The id of the job's latest event, "0-0" when it has none."""
        last: str = await self._batch.ask((_LAST, self.keys.events(job_id).encode()))
        return last

    async def close(self) -> None:
        """Stop the readers, end every subscription (`HubClosed`), close the connections."""
        if self._closed:
            return
        self._closed = True
        tasks = {r.task for r in self._readers}
        for reader in self._readers:
            reader.changed.set()
        # A cancellation can be swallowed inside redis-py's read; the loop also stops on
        # `closed`, so ask again until every reader has stopped.
        while tasks:
            for task in tasks:
                task.cancel()
            _, tasks = await asyncio.wait(tasks, timeout=0.1)
        for feed in self._feeds.values():
            for sub in feed.subs:
                sub._close()
        await self._batch.close()
        if self._owns_redis:
            await self.redis.aclose()

    def _attach(self, job_id: str, after: str) -> Subscription:
        feed = self._feeds.get(job_id)
        if feed is None:
            feed = self._feeds[job_id] = _Feed(job_id, self.keys.events(job_id), after,
                                               self._reader_for_one_more())
            feed.reader.add(feed)
        sub = Subscription(self, feed, after)
        feed.subs.add(sub)
        self._followers += 1
        return sub

    def _detach(self, sub: Subscription) -> None:
        feed = sub._feed
        if sub in feed.subs:
            feed.subs.discard(sub)
            self._followers -= 1
        sub._closed = True
        if not feed.subs and self._feeds.get(feed.job_id) is feed:
            del self._feeds[feed.job_id]
            feed.reader.feeds.pop(feed.key, None)

    def _reader_for_one_more(self) -> _Reader:
        least = min(self._readers, key=lambda r: len(r.feeds), default=None)
        if least is None or (len(least.feeds) >= STREAMS_PER_READER
                             and len(self._readers) < READERS):
            least = _Reader(self)
            self._readers.append(least)
        return least


__all__ = ["BUFFER", "HUB_CONNECTIONS", "EventHub", "HubClosed", "HubStats", "StreamEvent",
           "Subscription", "position"]
