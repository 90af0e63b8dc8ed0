"""The event fan-out (`src/queue/fanout.py`) against the real Valkey: events written to a
job's stream as the scripts write them (XADD, field `d`), read by `EventHub`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from src.queue import Client
from src.queue.fanout import BUFFER, HUB_CONNECTIONS, EventHub, StreamEvent


async def emit(redis: Any, client: Client, job_id: str, **event: Any) -> str:
    entry = await redis.xadd(client.keys.events(job_id), {"d": orjson.dumps(event)})
    return str(entry.decode())


async def drain(sub: Any, n: int, timeout_s: float = 5.0) -> list[StreamEvent]:
    """Exactly the next `n` events of `sub` (fails when they do not come in time)."""
    got: list[StreamEvent] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n:
        left = deadline - time.monotonic()
        assert left > 0, f"got {len(got)} of {n} events"
        got += await sub.next(left)
    assert len(got) == n, [e.data for e in got]
    return got


async def hub_connections(redis: Any, hub: EventHub) -> int:
    """The server's clients that belong to the hub's own pool."""
    mine = {c._writer.get_extra_info("sockname")[1] for c in _pool_connections(hub)}
    clients = await redis.client_list()
    return sum(1 for c in clients if int(c["addr"].rsplit(":", 1)[1]) in mine)


def _pool_connections(hub: EventHub) -> list[Any]:
    pool = hub.redis.connection_pool
    return [c for c in (*pool._available_connections, *pool._in_use_connections)
            if c._writer is not None]


async def test_followers_of_one_job_share_one_read(client: Client, redis: Any) -> None:
    hub = EventHub(client.redis, client.keys)
    try:
        async with _subscriptions(hub, ["job1"] * 50) as subs:
            assert [await s.next(0) for s in subs] == [[]] * 50  # each read the empty stream
            sent = []
            for i in range(10):
                sent.append(await emit(redis, client, "job1", type="progress", progress=i))
                await asyncio.sleep(0.005)
            received = await asyncio.gather(*(drain(s, 10) for s in subs))
            for events in received:
                assert [e.id for e in events] == sent
                assert [e.data["progress"] for e in events] == list(range(10))
            assert hub.stats.events == 10, "the hub read each event once, for all 50"
            assert hub.stats.stream_reads <= 2 * 50  # only their first catch-up
            reads = hub.stats.stream_reads
            async with hub.subscribe("job1") as late:  # joins from the hub's latest events
                assert [e.id for e in await late.next(1)] == sent
            assert hub.stats.stream_reads == reads
            assert hub.followers == 50 and hub.followed_jobs == 1
        assert hub.followers == 0 and hub.followed_jobs == 0
    finally:
        await hub.close()


async def test_connections_stay_bounded_whatever_the_followers(client: Client,
                                                               redis: Any) -> None:
    hub = EventHub(client.redis, client.keys)
    try:
        jobs = [f"job{i % 300}" for i in range(1500)]
        async with _subscriptions(hub, jobs) as subs:
            await asyncio.gather(*(s.next(0) for s in subs))
            await emit(redis, client, "job7", type="progress", progress=1)
            got = await asyncio.gather(*(drain(s, 1) for s in subs if s.job_id == "job7"))
            assert len(got) == 5
            assert hub.followed_jobs == 300
            assert 1 <= await hub_connections(redis, hub) <= HUB_CONNECTIONS
    finally:
        await hub.close()
    assert _pool_connections(hub) == []


async def test_slow_follower_is_resumed_from_the_stream_not_dropped(client: Client,
                                                                    redis: Any) -> None:
    hub = EventHub(client.redis, client.keys)
    n = BUFFER * 3 + 17
    try:
        async with hub.subscribe("job1") as fast, hub.subscribe("job1") as slow:
            await fast.next(0)
            await slow.next(0)

            async def writer() -> list[str]:
                ids = []
                for i in range(n):
                    ids.append(await emit(redis, client, "job1", type="partial", text=str(i)))
                    if i % 50 == 0:
                        await asyncio.sleep(0.01)  # let the hub read in several batches
                return ids

            # The slow one reads nothing meanwhile; the fast one is not held up by it.
            sent, fast_got = await asyncio.gather(writer(), drain(fast, n, timeout_s=20))
            assert [e.id for e in fast_got] == sent
            assert hub.stats.resumed >= 1, "the slow follower's buffer never overflowed"
            slow_got = await drain(slow, n, timeout_s=20)
            assert [e.id for e in slow_got] == sent, "a gap or a repeat after the resume"
            # ... and it is fed by the hub again once it has caught up
            more = await emit(redis, client, "job1", type="partial", text="more")
            assert [e.id for e in await drain(slow, 1)] == [more]
            assert [e.id for e in await drain(fast, 1)] == [more]
    finally:
        await hub.close()


async def test_resume_after_an_id_then_follow(client: Client, redis: Any) -> None:
    hub = EventHub(client.redis, client.keys)
    try:
        ids = [await emit(redis, client, "job1", type="progress", progress=i) for i in range(6)]
        async with hub.subscribe("job1", after=ids[3]) as sub:
            assert [e.id for e in await sub.next(1)] == ids[4:]
            assert sub.last_id == ids[-1]
            later = await emit(redis, client, "job1", type="progress", progress=9)
            assert [e.id for e in await drain(sub, 1)] == [later]
        async with hub.subscribe("job1", after=None) as now:  # from now on
            assert await now.next(0.2) == []
            last = await emit(redis, client, "job1", type="progress", progress=10)
            assert [e.id for e in await drain(now, 1)] == [last]
    finally:
        await hub.close()


async def test_terminal_event_and_an_empty_wait(client: Client, redis: Any) -> None:
    hub = EventHub(client.redis, client.keys)
    try:
        async with hub.subscribe("job1") as sub:
            start = time.monotonic()
            assert await sub.next(0.3) == []
            assert 0.25 <= time.monotonic() - start < 2
            await emit(redis, client, "job1", type="status", status="running")
            await emit(redis, client, "job1", type="status", status="succeeded")
            events = await drain(sub, 2)
            assert [e.terminal for e in events] == [False, True]
            assert orjson.loads(events[1].raw) == {"type": "status", "status": "succeeded"}
    finally:
        await hub.close()


async def test_the_hub_keeps_up_as_jobs_come_and_go(client: Client, redis: Any) -> None:
    """Followers leave and join while events flow: each gets every event after its id."""
    hub = EventHub(client.redis, client.keys)
    try:
        first = await emit(redis, client, "job1", type="progress", progress=0)
        async with hub.subscribe("job1") as a:
            assert [e.id for e in await a.next(1)] == [first]
            async with hub.subscribe("job2"):
                pass  # job2's feed is made and dropped while job1's reads go on
            second = await emit(redis, client, "job1", type="progress", progress=1)
            assert [e.id for e in await drain(a, 1)] == [second]
            async with hub.subscribe("job1", after=first) as b:
                assert [e.id for e in await drain(b, 1)] == [second]
                third = await emit(redis, client, "job1", type="progress", progress=2)
                assert [e.id for e in await drain(a, 1)] == [third]
                assert [e.id for e in await drain(b, 1)] == [third]
    finally:
        await hub.close()


async def test_close_ends_the_subscriptions(client: Client) -> None:
    hub = EventHub(client.redis, client.keys)
    async with hub.subscribe("job1") as sub:
        await sub.next(0)
        waiting = asyncio.create_task(sub.next(30))
        await asyncio.sleep(0.05)
        await hub.close()
        with pytest.raises(RuntimeError, match="closed"):
            await asyncio.wait_for(waiting, 2)


async def test_client_wait_uses_the_hub(client: Client, redis: Any) -> None:
    job = await client.enqueue("add", {"x": 1, "y": 2}, queue="nobody")
    waiting = asyncio.create_task(client.wait(job.id, timeout_s=10))
    await asyncio.sleep(0.2)
    assert client.hub.followers == 1
    await client.cancel(job.id)
    done = await asyncio.wait_for(waiting, 3)
    assert done is not None and done["status"] == "cancelled"
    assert client.hub.followers == 0
    # a job that does not end: the latest record once the time is up
    other = await client.enqueue("add", {"x": 1, "y": 2}, queue="nobody")
    start = time.monotonic()
    rec = await client.wait(other.id, timeout_s=0.5)
    assert rec is not None and rec["status"] == "queued"
    assert 0.4 < time.monotonic() - start < 2


class _subscriptions:
    """`async with` many subscriptions at once."""

    def __init__(self, hub: EventHub, jobs: list[str]) -> None:
        self.hub, self.jobs = hub, jobs
        self.cms: list[Any] = []

    async def __aenter__(self) -> list[Any]:
        self.cms = [self.hub.subscribe(j) for j in self.jobs]
        return [await cm.__aenter__() for cm in self.cms]

    async def __aexit__(self, *exc: object) -> None:
        for cm in self.cms:
            await cm.__aexit__(None, None, None)
