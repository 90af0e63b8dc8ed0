"""The queue, unchanged, on a real Redis Cluster (AGENTQ_REDIS_CLUSTER=1).

Workers are the real `python -m src.worker` processes; the client is
`Client.from_url(..., cluster=True)`, i.e. redis-py's cluster client. Each test has a
namespace of its own, so tests land on different slots (and shards) of one cluster.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.cluster import key_slot

from src.queue import Client


def cluster_client(valkey_cluster, namespace: str) -> Client:
    return Client.from_url(valkey_cluster.url, namespace=namespace, cluster=True)


async def _wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while True:
        value = await predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def test_every_key_of_an_enqueue_is_in_the_namespace_slot():
    # With or without an idempotency key, delayed or not: one slot, or CROSSSLOT.
    client = Client(None, "probe")
    for options in ({}, {"idempotency_key": "k"}, {"delay_s": 5}):
        call, _ = client._prepare("add", {"x": 1, "y": 2}, **options)
        assert len({key_slot(k.encode()) for k in call.keys}) == 1, call.keys


async def test_the_client_is_a_cluster_client(valkey_cluster, cluster_namespace):
    async with cluster_client(valkey_cluster, cluster_namespace) as client:
        assert type(client.redis).__name__ == "RedisCluster"
        assert await client.ping()


async def test_enqueue_run_succeed(valkey_cluster, cluster_namespace, cluster_worker):
    worker = cluster_worker()
    async with cluster_client(valkey_cluster, cluster_namespace) as client:
        added = await client.enqueue("add", {"x": 2, "y": 3})
        slept = await client.enqueue("sleep", {"seconds": 0.3, "steps": 3})
        assert added.record["status"] == "queued"

        done = await client.wait(added.id, timeout_s=20)
        assert done is not None, worker.log()
        assert (done["status"], done["result"], done["attempt"]) == ("succeeded", 5, 1)
        assert done["worker"]

        done = await client.wait(slept.id, timeout_s=20)
        assert done["status"] == "succeeded" and done["progress"] == 100

        queues = await client.queues()
        default = next(q for q in queues["queues"] if q["name"] == "default")
        assert (default["succeeded"], default["queued"], default["running"]) == (2, 0, 0)
        assert queues["workers"] == 1


async def test_retries_until_success(valkey_cluster, cluster_namespace, cluster_worker):
    cluster_worker()
    async with cluster_client(valkey_cluster, cluster_namespace) as client:
        job = await client.enqueue("fail", {"times": 2, "message": "flaky"}, max_attempts=3)
        done = await client.wait(job.id, timeout_s=30)
        assert done is not None
        assert (done["status"], done["attempt"]) == ("succeeded", 3)

        hopeless = await client.enqueue("fail", {"times": 5, "message": "no"}, max_attempts=2)
        done = await client.wait(hopeless.id, timeout_s=30)
        assert (done["status"], done["attempt"]) == ("failed", 2)
        assert done["error"]["type"] == "exception" and "no" in done["error"]["message"]
        assert [d["id"] for d in await client.dead()] == [hopeless.id]


async def test_a_killed_workers_job_is_recovered(valkey_cluster, cluster_namespace,
                                                 cluster_worker):
    doomed = cluster_worker()
    async with cluster_client(valkey_cluster, cluster_namespace) as client:
        job = await client.enqueue("sleep", {"seconds": 2, "steps": 4}, max_attempts=3)

        async def running():
            rec = await client.get(job.id)
            return rec if rec["status"] == "running" and rec["progress"] > 0 else None

        first = await _wait_for(running, 20, "the job to run")
        doomed.kill()  # SIGKILL: no goodbye, the job stays in its processing list
        doomed.wait(timeout=10)

        rescuer = cluster_worker()
        done = await client.wait(job.id, timeout_s=40)
        assert done is not None, rescuer.log()
        assert done["status"] == "succeeded"
        assert done["worker"] != first["worker"]
        assert done["attempt"] == 2
        stats = await client.queues()
        default = next(q for q in stats["queues"] if q["name"] == "default")
        assert default["recovered"] == 1


async def test_namespaces_on_different_shards_work_side_by_side(valkey_cluster, cluster_worker):
    # Two namespaces whose hash tags map to different primaries: the way to use more than
    # one shard is more than one namespace (each with its own workers).
    ranges = await _slots(valkey_cluster)

    def shard(ns: str) -> int:
        slot = key_slot(("{" + ns + "}").encode())
        return next(i for i, (s, e) in enumerate(ranges) if s <= slot <= e)

    names = [f"shard-test-{i}" for i in range(50)]
    a = names[0]
    b = next(n for n in names if shard(n) != shard(a))
    for ns in (a, b):
        cluster_worker(AGENTQ_NAMESPACE=ns)
    clients = [cluster_client(valkey_cluster, ns) for ns in (a, b)]
    try:
        jobs = [await c.enqueue("add", {"x": i, "y": 1}) for i, c in enumerate(clients)]
        done = [await c.wait(j.id, timeout_s=20) for c, j in zip(clients, jobs, strict=True)]
        assert [d["result"] for d in done] == [1, 2]
    finally:
        for c in clients:
            await c.close()


async def _slots(valkey_cluster) -> list[tuple[int, int]]:
    from redis.asyncio.cluster import RedisCluster

    rc = RedisCluster.from_url(valkey_cluster.url)
    try:
        return sorted((await rc.cluster_slots(target_nodes=RedisCluster.RANDOM)).keys())
    finally:
        await rc.aclose()


async def test_the_api_on_the_cluster(valkey_cluster, cluster_namespace, cluster_worker):
    httpx = pytest.importorskip("httpx")
    from src.api.app import create_app
    from src.api.settings import ApiSettings

    cluster_worker()
    settings = ApiSettings(REDIS_URL=valkey_cluster.url, AGENTQ_REDIS_CLUSTER=True,
                           AGENTQ_NAMESPACE=cluster_namespace)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            ready = (await http.get("/ready")).json()
            assert ready["status"] == "ready"
            body = {"type": "add", "payload": {"x": 1, "y": 2}}
            created = await http.post("/jobs?wait=20", json=body)
            assert created.status_code == 200, created.text
            assert created.json()["result"] == 3
            listed = (await http.get("/jobs")).json()["jobs"]
            assert [j["id"] for j in listed] == [created.json()["id"]]
