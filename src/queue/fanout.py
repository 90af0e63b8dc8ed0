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
from the latest events the hub keeps for that job (`subscription.HISTORY`) when they reach back to
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
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any, cast

import orjson
import redis.asyncio as aioredis

from .connection import REDIS_DOWN
from .errors import atranslate_redis_errors
from .keys import Keys
from .subscription import (
    BUFFER,
    Feed,
    HubClosed,
    HubStats,
    StreamEvent,
    Subscription,
    position,
)

log = logging.getLogger("agentq.events")

#: How long one XREAD of the hub blocks when no followed job has news. A job followed
#: for the first time joins the next call: its first events wait up to this long.
READ_BLOCK_MS = 100
#: Events read per stream per XREAD call.
READ_COUNT = 100
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


class _Reader:
    """One connection's XREAD loop over its share of the followed jobs."""

    def __init__(self, hub: EventHub) -> None:
        self.hub = hub
        self.feeds: dict[bytes, Feed] = {}
        self.changed = asyncio.Event()
        self.task = asyncio.create_task(self.run(), name="agentq-events-reader")

    def add(self, feed: Feed) -> None:
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
        self._feeds: dict[str, Feed] = {}
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
            reader = self._reader_for_one_more()
            feed = self._feeds[job_id] = Feed(job_id, self.keys.events(job_id), after, reader)
            reader.add(feed)
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
            cast(_Reader, feed.reader).feeds.pop(feed.key, None)

    def _reader_for_one_more(self) -> _Reader:
        least = min(self._readers, key=lambda r: len(r.feeds), default=None)
        if least is None or (len(least.feeds) >= STREAMS_PER_READER
                             and len(self._readers) < READERS):
            least = _Reader(self)
            self._readers.append(least)
        return least


__all__ = ["BUFFER", "HUB_CONNECTIONS", "EventHub", "HubClosed", "HubStats", "StreamEvent",
           "Subscription", "position"]
