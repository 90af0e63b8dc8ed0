"""claim.lua's fair shares on the real server: keys take turns, a key at its limit is
passed over, a key whose list emptied leaves the ring, wake-up tokens stay few."""

from __future__ import annotations

import orjson

from src.queue import Client


async def _claim(client: Client, queue: str, n: int, worker: str = "w") -> list[tuple[str, str]]:
    raws = await client.ops.claim(client.keys.processing(worker), [client.keys.queue(queue)], n)
    return [(e.get("concurrency_key", "-"), e["payload"]["i"]) for e in map(orjson.loads, raws)]


async def test_keys_take_turns_and_unkeyed_jobs_take_theirs(client, redis):
    q = "fair-turns"
    await client.enqueue_many([{"type": "echo", "payload": {"i": f"a{i}"}, "queue": q,
                                "concurrency_key": "A"} for i in range(4)])
    await client.enqueue("echo", {"i": "b0"}, queue=q, concurrency_key="B")
    await client.enqueue("echo", {"i": "c0"}, queue=q, concurrency_key="C")
    await client.enqueue("echo", {"i": "x0"}, queue=q)
    assert await _claim(client, q, 5) == [("A", "a0"), ("B", "b0"), ("C", "c0"), ("-", "x0"),
                                          ("A", "a1")]
    assert await redis.lrange(client.keys.ring(q), 0, -1) == [b"A"]  # B, C, "" emptied
    await client.enqueue("echo", {"i": "b1"}, queue=q, concurrency_key="B")
    assert await _claim(client, q, 3) == [("A", "a2"), ("B", "b1"), ("A", "a3")]
    assert await redis.llen(client.keys.ring(q)) == 0
    assert await redis.llen(client.keys.wake(q)) == 8  # one token per push, none popped
    assert await _claim(client, q, 3) == []


async def test_a_key_at_its_limit_is_passed_over_until_a_job_ends(client, redis):
    q = "fair-limit"
    limits = client.keys.key_limits
    jobs = await client.enqueue_many([{"type": "echo", "payload": {"i": f"a{i}"}, "queue": q,
                                       "concurrency_key": "A"} for i in range(3)])
    await redis.hset(limits, "A", 1)
    await client.enqueue("echo", {"i": "b0"}, queue=q, concurrency_key="B")
    assert await _claim(client, q, 4) == [("A", "a0"), ("B", "b0")]
    assert await redis.zrange(client.keys.running("A"), 0, -1) == [jobs[0].id.encode()]
    assert await _claim(client, q, 4) == []
    await redis.zrem(client.keys.running("A"), jobs[0].id)  # its attempt ended
    assert await _claim(client, q, 4) == [("A", "a1")]
    await redis.hdel(limits, "A")


async def test_wake_tokens_are_capped(client, redis):
    q = "fair-wake"
    await client.enqueue_many([{"type": "echo", "payload": {"i": i}, "queue": q}
                               for i in range(100)])
    assert await redis.llen(client.keys.wake(q)) == 64


async def test_an_envelope_naming_a_key_only_in_its_payload_stays_unkeyed(client, redis):
    q = "fair-spoof"
    await client.enqueue("echo", {"i": "p", "concurrency_key": "Z"}, queue=q)
    assert await redis.llen(client.keys.queue(q)) == 1
    assert await redis.lrange(client.keys.ring(q), 0, -1) == [b""]


async def test_queue_counts_include_the_keys_lists_and_name_the_busiest_keys(client, redis):
    q = "fair-counts"
    await client.enqueue_many([{"type": "echo", "payload": {"i": i}, "queue": q,
                                "concurrency_key": "A"} for i in range(3)])
    await client.enqueue("echo", {"i": 9}, queue=q, concurrency_key="B")
    await client.enqueue("echo", {"i": 0}, queue=q)
    await _claim(client, q, 2, worker="counter")
    await redis.zadd(client.keys.workers, {"counter": 1e15})  # a live worker
    try:
        counts = await client.queues(top_keys=1)
    finally:
        await redis.zrem(client.keys.workers, "counter")
    row = next(r for r in counts["queues"] if r["name"] == q)
    assert (row["queued"], row["running"]) == (3, 2)
    assert counts["keys"] == [{"key": "A", "queued": 2, "running": 1}]


async def test_an_envelope_another_producer_pushed_takes_the_queues_turn(client, redis):
    q = "fair-foreign"
    await client.enqueue_many([{"type": "echo", "payload": {"i": f"a{i}"}, "queue": q,
                                "concurrency_key": "A"} for i in range(3)])
    foreign = {"v": 1, "id": "01FOREIGN0000000000000000", "type": "echo", "queue": q,
               "payload": {"i": "f"}, "attempt": 1, "max_attempts": 1, "enqueued_at": 1.0}
    await redis.lpush(client.keys.queue(q), orjson.dumps(foreign))  # no ring entry, no token
    assert await _claim(client, q, 2) == [("A", "a0"), ("-", "f")]
