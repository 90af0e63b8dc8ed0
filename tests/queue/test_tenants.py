"""Tenants in the core: a job's tenant travels in its envelope and record, survives a retry,
filters a list, and `Client.tenants` counts queued and running jobs per tenant."""

from __future__ import annotations

import time

import orjson
import pytest

from src.queue import Client
from src.queue.models import DEFAULT_TENANT, Envelope, Status, envelope_of, make_record, tenant_of


def test_the_tenant_is_in_the_envelope_and_the_record_only_when_set() -> None:
    env = Envelope(id="j1", type="echo", tenant="acme")
    assert orjson.loads(env.dump())["tenant"] == "acme"
    record = make_record(env, Status.QUEUED)
    assert record["tenant"] == "acme" and tenant_of(record) == "acme"
    assert envelope_of({**record, "status": "failed"}).tenant == "acme"  # a retry keeps it
    assert env.next_attempt().tenant == "acme"  # so does a worker's retry
    plain = Envelope(id="j2", type="echo")
    assert "tenant" not in orjson.loads(plain.dump())
    assert "tenant" not in make_record(plain, Status.QUEUED)
    assert tenant_of(make_record(plain, Status.QUEUED)) == DEFAULT_TENANT == "default"


async def test_enqueue_and_enqueue_many_take_a_tenant(client: Client) -> None:
    one = await client.enqueue("echo", {}, queue="idle", tenant="acme")
    assert one.record["tenant"] == "acme"
    none, default = await client.enqueue("echo", {}, queue="idle"), await client.enqueue(
        "echo", {}, queue="idle", tenant="default")
    assert "tenant" not in none.record and "tenant" not in default.record
    batch = await client.enqueue_many(
        [{"type": "echo", "queue": "idle"}, {"type": "echo", "queue": "idle", "tenant": "beta"}],
        tenant="acme")
    assert [b.record.get("tenant") for b in batch] == ["acme", "beta"]
    # a tenant's jobs wait on the list of their concurrency key, the tenant
    (raw,) = await client.redis.lrange(client.keys.key_queue("idle", "beta"), 0, 0)
    assert orjson.loads(raw)["tenant"] == "beta" and orjson.loads(raw)["concurrency_key"] == "beta"


async def test_a_tenant_name_is_checked(client: Client) -> None:
    for bad in ("", "a:b", "a b", "t" * 65):
        with pytest.raises(ValueError, match="tenant"):
            await client.enqueue("echo", {}, queue="idle", tenant=bad)
    assert await client.redis.llen(client.keys.queue("idle")) == 0


async def test_a_retried_job_keeps_its_tenant(client: Client) -> None:
    job = await client.enqueue("echo", {}, queue="idle", tenant="acme")
    await client.cancel(job.id)
    again = await client.retry(job.id)
    assert again["tenant"] == "acme"
    envs = [orjson.loads(r) for r in
            await client.redis.lrange(client.keys.key_queue("idle", "acme"), 0, -1)]
    assert [e.get("tenant") for e in envs if e["id"] == job.id] == ["acme"]


async def test_the_list_filters_by_tenant_and_pages_past_other_tenants(client: Client) -> None:
    mine = [(await client.enqueue("echo", {}, queue="idle", tenant="acme")).id for _ in range(2)]
    for _ in range(30):  # newer jobs of another tenant between acme's and the caller
        await client.enqueue("echo", {}, queue="idle", tenant="beta")
    plain = (await client.enqueue("echo", {}, queue="idle")).id
    page, cursor = await client.list(limit=1, tenant="acme")
    assert [r["id"] for r in page] == [mine[1]]
    page, cursor = await client.list(limit=1, before=cursor, tenant="acme")
    assert [r["id"] for r in page] == [mine[0]]
    assert (await client.list(limit=1, before=cursor, tenant="acme"))[0] == []
    assert [r["id"] for r in (await client.list(tenant="default"))[0]] == [plain]
    assert len((await client.list(limit=100))[0]) == 33  # no tenant: all


async def test_idempotency_keys_are_per_tenant(client: Client) -> None:
    a = await client.enqueue("echo", {}, queue="idle", tenant="acme", idempotency_key="k")
    again = await client.enqueue("echo", {}, queue="idle", tenant="acme", idempotency_key="k")
    b = await client.enqueue("echo", {}, queue="idle", tenant="beta", idempotency_key="k")
    d = await client.enqueue("echo", {}, queue="idle", idempotency_key="k")
    assert again.id == a.id and not again.created
    assert len({a.id, b.id, d.id}) == 3 and b.created and d.created


async def _running(client: Client, worker: str, *envelopes: Envelope) -> None:
    """`envelopes` in the processing list of a live worker `worker`."""
    await client.redis.zadd(client.keys.workers, {worker: time.time() * 1000})
    await client.redis.rpush(client.keys.processing(worker), *[e.dump() for e in envelopes])


async def test_tenant_counts_of_queued_and_running_jobs(client: Client) -> None:
    for _ in range(3):
        await client.enqueue("echo", {}, queue="q1", tenant="acme")
    await client.enqueue("echo", {}, queue="q2", tenant="beta")
    await client.enqueue("echo", {}, queue="q2")
    await _running(client, "w1", Envelope(id="r1", type="echo", tenant="beta"),
                   Envelope(id="r2", type="echo", tenant="beta"))
    await _running(client, "w2", Envelope(id="r3", type="echo", tenant="gamma"))
    rows = await client.tenants()
    assert rows == [
        {"tenant": "acme", "queued": 3, "running": 0, "estimated": False},
        {"tenant": "beta", "queued": 1, "running": 2, "estimated": False},
        {"tenant": "default", "queued": 1, "running": 0, "estimated": False},
        {"tenant": "gamma", "queued": 0, "running": 1, "estimated": False},
    ]
    assert [r["tenant"] for r in await client.tenants(top=2)] == ["acme", "beta"]
    assert await client.tenants(only="beta") == [rows[1]]
    assert await client.tenants(only="nobody") == [
        {"tenant": "nobody", "queued": 0, "running": 0, "estimated": False}]


async def test_a_long_queue_is_counted_from_a_bounded_sample(client: Client) -> None:
    await client.enqueue_many([{"type": "echo", "queue": "big", "tenant": "acme"}] * 300)
    await client.enqueue_many([{"type": "echo", "queue": "big", "tenant": "beta"}] * 100)
    # 100 read over the four lists jobs wait on (`default`'s and `big`'s own lists, and
    # `big`'s lists of the keys acme and beta): the oldest 25 of each, counted in
    # proportion to the list's length
    rows = await client.tenants(sample=100)
    assert rows == [{"tenant": "acme", "queued": 300, "running": 0, "estimated": True},
                    {"tenant": "beta", "queued": 100, "running": 0, "estimated": True}]
    exact = await client.tenants(sample=2000)
    assert {r["tenant"]: r["queued"] for r in exact} == {"acme": 300, "beta": 100}
    assert not exact[0]["estimated"]
