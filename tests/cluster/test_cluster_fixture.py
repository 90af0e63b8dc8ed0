"""The fixture is a real cluster, and the `{ns}` key layout fits it (CONTRACT §5)."""

from __future__ import annotations

import pytest
from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.cluster import key_slot


async def test_three_primaries_cover_every_slot(valkey_cluster):
    rc = RedisCluster.from_url(valkey_cluster.url)
    try:
        shards = await rc.cluster_slots(target_nodes=RedisCluster.RANDOM)
        primaries = {tuple(node["primary"]) for node in shards.values()}
        covered = sum(end - start + 1 for (start, end) in shards)
        assert len(primaries) == 3
        assert covered == 16384
    finally:
        await rc.aclose()


async def test_a_namespace_is_one_slot_and_cross_slot_is_refused(valkey_cluster):
    ns = "{agentq}"
    keys = [f"{ns}:queue:default", f"{ns}:processing:w1", f"{ns}:job:01J", f"{ns}:stats"]
    assert len({key_slot(k.encode()) for k in keys}) == 1

    rc = RedisCluster.from_url(valkey_cluster.url, decode_responses=True)
    try:
        # Multi-key commands and scripts work inside one namespace ...
        await rc.lpush(keys[0], "a", "b")
        assert await rc.blmove(keys[0], keys[1], 1, "RIGHT", "LEFT") == "a"
        moved = await rc.eval(
            "return redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')", 2, keys[0], keys[1]
        )
        assert moved == "b"
        assert await rc.lrange(keys[1], 0, -1) == ["b", "a"]
        await rc.delete(*keys)

        # ... and across slots the cluster client refuses them before sending ...
        with pytest.raises(redis_errors.RedisClusterException, match="same key slot"):
            await rc.eval("return redis.call('GET', KEYS[1])", 2, "{a}:x", "{b}:x")
    finally:
        await rc.aclose()

    # ... and so does the server itself: this is a real cluster.
    node = Redis(host="127.0.0.1", port=valkey_cluster.ports[0])
    try:
        with pytest.raises(redis_errors.ResponseError, match="same slot"):
            await node.eval("return redis.call('GET', KEYS[1])", 2, "{a}:x", "{b}:x")
    finally:
        await node.aclose()


def test_namespaces_spread_over_the_shards():
    # Several namespaces are how one deployment uses more than one shard.
    slots = {key_slot(f"{{agentq-{i}}}:queue:default".encode()) for i in range(12)}
    shard_of = [s * 3 // 16384 for s in slots]
    assert len(set(shard_of)) == 3
