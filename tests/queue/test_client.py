"""The client against a real server: enqueue, idempotency, delay, cancel, retry, listing."""

import asyncio

import orjson
import pytest

from src.queue import Client, InvalidPayload, JobConflict, JobNotFound, RedisUnavailable


async def test_enqueue_writes_record_envelope_index_and_counter(client, redis):
    job = await client.enqueue("add", {"x": 2, "y": 3})
    k = client.keys
    rec = await client.get(job.id)
    assert rec["status"] == "queued" and rec["payload"] == {"x": 2, "y": 3} and rec["attempt"] == 0
    env = orjson.loads(await redis.lindex(k.queue("default"), 0))
    assert env["v"] == 1 and env["id"] == job.id and env["attempt"] == 1
    assert await redis.zscore(k.jobs, job.id) is not None
    assert int(await redis.hget(k.stats, "default:enqueued")) == 1


async def test_idempotency_key_returns_the_first_job(client):
    a = await client.enqueue("add", {"x": 1, "y": 1}, idempotency_key="order-7")
    b = await client.enqueue("add", {"x": 9, "y": 9}, idempotency_key="order-7")
    assert a.created and not b.created and b.id == a.id
    assert b.record["payload"] == {"x": 1, "y": 1}


async def test_enqueue_many_is_one_batch(client):
    jobs = await client.enqueue_many([{"type": "add", "payload": {"x": i, "y": i}} for i in range(50)])
    assert len({j.id for j in jobs}) == 50
    assert (await client.queues())["queues"][0]["queued"] == 50


async def test_delayed_job_waits_in_the_scheduled_set(client, redis):
    job = await client.enqueue("add", {"x": 1, "y": 2}, delay_s=60)
    assert (await client.get(job.id))["status"] == "scheduled"
    assert await redis.zcard(client.keys.scheduled) == 1
    assert await redis.llen(client.keys.queue("default")) == 0


async def test_cancel_queued_job_at_once_and_conflict_after(client):
    job = await client.enqueue("add", {"x": 1, "y": 2})
    rec = await client.cancel(job.id)
    assert rec["status"] == "cancelled" and rec["error"]["type"] == "cancelled"
    assert (await client.get(job.id))["status"] == "cancelled"
    with pytest.raises(JobConflict):
        await client.cancel(job.id)
    with pytest.raises(JobNotFound):
        await client.cancel("01NOSUCHJOB0000000000000000")


async def test_retry_only_failed_or_cancelled(client):
    job = await client.enqueue("add", {"x": 1, "y": 2})
    with pytest.raises(JobConflict):
        await client.retry(job.id)
    await client.cancel(job.id)
    rec = await client.retry(job.id)
    assert rec["status"] == "queued" and rec["attempt"] == 0


async def test_list_is_newest_first_filtered_and_paged(client):
    ids = [(await client.enqueue("add", {"x": i, "y": 0})).id for i in range(7)]
    await client.cancel(ids[3])
    page, nxt = await client.list(limit=3)
    assert [r["id"] for r in page] == ids[::-1][:3] and nxt == ids[4]
    page2, _ = await client.list(limit=3, before=nxt)
    assert [r["id"] for r in page2] == ids[::-1][3:6]
    cancelled, _ = await client.list(status="cancelled")
    assert [r["id"] for r in cancelled] == [ids[3]]


async def test_every_key_is_in_the_hash_tag_and_every_record_has_a_ttl(client, redis):
    job = await client.enqueue("add", {"x": 1, "y": 2}, idempotency_key="k1")
    await client.enqueue("add", {"x": 1, "y": 2}, delay_s=30)
    await client.cancel(job.id)
    keys = [k.decode() async for k in redis.scan_iter(match=f"*{client.keys.namespace}*")]
    assert keys and all(k.startswith(client.keys.prefix + ":") for k in keys)
    for k in keys:
        if ":job:" in k or ":idem:" in k or ":cancel:" in k or ":events:" in k:
            assert await redis.ttl(k) > 0, k


async def test_unreachable_redis_is_reported_as_unavailable(settings):
    from tests.support import free_port

    c = Client.from_url(f"redis://127.0.0.1:{free_port()}/0", "x", settings=settings)
    with pytest.raises(RedisUnavailable):
        await c.enqueue("add", {"x": 1, "y": 1})
    await c.close()


def test_sync_client_does_the_same(redis_url, namespace, settings):
    from src.queue import SyncClient

    with SyncClient.from_url(redis_url, namespace, settings=settings) as c:
        job = c.enqueue("add", {"x": 2, "y": 3})
        assert c.get(job.id)["status"] == "queued"
        assert c.keys.namespace == namespace


async def test_wait_returns_latest_record_at_timeout(client):
    job = await client.enqueue("add", {"x": 1, "y": 2})
    started = asyncio.get_running_loop().time()
    rec = await client.wait(job.id, timeout_s=0.3)
    assert rec["status"] == "queued"
    assert asyncio.get_running_loop().time() - started < 2


def test_sync_enqueue_goes_straight_to_redis_and_keeps_idempotency(redis_url, namespace,
                                                                  settings):
    import threading

    from src.queue import SyncClient
    from src.queue.registry import load_task_modules

    load_task_modules()  # the built-in tasks, so `add`'s payload is checked
    with SyncClient.from_url(redis_url, namespace, settings=settings) as c:
        loop_threads_before = {t.name for t in threading.enumerate()}
        job = c.enqueue("add", {"x": 2, "y": 3}, idempotency_key="once", concurrency_key="k")
        again = c.enqueue("add", {"x": 9, "y": 9}, idempotency_key="once")
        assert job.created and not again.created and again.id == job.id
        assert again.record["payload"] == {"x": 2, "y": 3}  # the first job's record
        rec = c.get(job.id)
        assert rec["status"] == "queued" and rec["concurrency_key"] == "k"
        assert c.queues()["keys"] == [{"key": "k", "queued": 1, "running": 0}]
        with pytest.raises(InvalidPayload):
            c.enqueue("add", {"x": "two"})
        assert {t.name for t in threading.enumerate()} == loop_threads_before
