"""The Lua loader: every file is a script or an include, every script has its header."""

import re

import orjson
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from src.queue import scripts
from src.queue.connection import connect, takes_requests


def test_every_lua_file_is_loaded_and_includes_resolve():
    loaded = scripts.load_all()
    files = {p.stem for p in scripts.LUA_DIR.glob("*.lua") if not p.stem.startswith("_")}
    assert set(loaded) == files
    for s in loaded.values():
        assert "@include" not in s.source


@pytest.mark.parametrize("name", sorted(scripts.load_all()))
def test_every_script_documents_its_keys_args_and_output(name):
    text = (scripts.LUA_DIR / f"{name}.lua").read_text()
    assert text.startswith("--[[")
    for section in ("Input:", "Output:"):
        assert section in text, f"{name}.lua lacks {section}"
    used = set(re.findall(r"KEYS\[(\d+)\]", text.split("]]", 1)[1]))
    documented = set(re.findall(r"KEYS\[(\d+)\]", text.split("]]", 1)[0]))
    assert used <= documented or "KEYS[2..]" in text


def test_circular_include_is_refused(tmp_path, monkeypatch):
    (tmp_path / "a.lua").write_text('--- @include "b"\n')
    (tmp_path / "b.lua").write_text('--- @include "a"\n')
    monkeypatch.setattr(scripts, "LUA_DIR", tmp_path)
    with pytest.raises(ValueError, match="circular"):
        scripts._resolve("a")


async def test_run_reloads_a_script_the_server_forgot(redis, namespace):
    """SCRIPT FLUSH (or a restart) empties the server's cache: EVALSHA answers NOSCRIPT,
    and `run` loads the script and repeats the call."""
    claim = scripts.load_all()["claim"]
    proc, queue = f"{{{namespace}}}:processing:w", f"{{{namespace}}}:queue:q"
    await redis.script_flush()
    assert await redis.script_exists(claim.sha) == [False]
    assert await scripts.run(redis, "claim", [proc, f"{{{namespace}}}:key_limits", queue], [5, 0]) == []
    assert await redis.script_exists(claim.sha) == [True]
    await redis.rpush(queue, "a", "b", "c")
    await redis.script_flush()
    assert await scripts.run(redis, "claim", [proc, f"{{{namespace}}}:key_limits", queue], [2, 0]) == [b"c", b"b"]
    assert await redis.lrange(proc, 0, -1) == [b"b", b"c"]
    assert await redis.lrange(queue, 0, -1) == [b"a"]
    await redis.delete(proc, queue)


@pytest.mark.parametrize("through", ["agentq's connections", "redis-py's pipeline"])
async def test_run_many_repeats_only_the_calls_refused_with_noscript(redis, redis_url, namespace,
                                                                      through):
    """A pipeline where the server knows `ratelimit` but not `claim`: the ratelimit call
    runs once, the two refused claims are repeated once each after loading, the answers
    come back in call order, and the plain command queued after them runs once; the same
    through agentq's own request path (`connection.request`) and through a plain client's
    pipeline."""
    sender = connect(redis_url) if through == "agentq's connections" else redis
    assert takes_requests(sender) == (through == "agentq's connections")
    proc, queue = f"{{{namespace}}}:processing:w", f"{{{namespace}}}:queue:q"
    limit, counter = f"{{{namespace}}}:ratelimit:x", f"{{{namespace}}}:n"
    await redis.rpush(queue, "a", "b", "c", "d")
    scripts._loaded(sender).update({"claim", "ratelimit"})  # as if run before the flush
    await redis.script_flush()
    await redis.script_load(scripts.load_all()["ratelimit"].source)
    ask = ("ratelimit", [limit], [10, 0, 0, 60_000, 20, ""])  # 10 requests a minute
    lim = f"{{{namespace}}}:key_limits"
    calls = [("claim", [proc, lim, queue], [1, 0]), ask, ("claim", [proc, lim, queue], [2, 0])]
    res = await scripts.run_many(sender, calls, then=[("INCR", counter)])
    assert res == [[b"d"], 0, [b"c", b"b"], 1]
    assert await redis.lrange(queue, 0, -1) == [b"a"]
    assert await redis.lrange(proc, 0, -1) == [b"b", b"c", b"d"]
    assert [int(v) for v in await redis.hvals(limit)] == [1]  # one request counted
    assert await redis.get(counter) == b"1"
    await redis.delete(proc, queue, limit, counter)
    if sender is not redis:
        await sender.aclose()


async def test_run_many_loads_a_new_script_first_so_the_calls_keep_their_order(
        redis, namespace):
    """A pipeline of a script the server has never run, then one it has: they run in call
    order. (Refused with NOSCRIPT, the first would be repeated after the second: a job's
    last events after its outcome, refused as stale.)"""
    job, events = f"{{{namespace}}}:job:j", f"{{{namespace}}}:events:j"
    await redis.set(job, orjson.dumps({"status": "running", "attempt": 1, "worker": "w"}))
    await redis.script_flush()
    await redis.script_load(scripts.load_all()["progress"].source)
    calls = [("progress_many", [job, events], ["w", 60, 100, 1, "", 1, '{"n":1}']),
             ("progress", [job, events], [1, "w", "", 60, 100, '{"n":2}'])]
    assert await scripts.run_many(redis, calls) == [[1], 1]
    assert [f[b"d"] for _, f in await redis.xrange(events)] == [b'{"n":1}', b'{"n":2}']
    await redis.delete(job, events)


async def test_after_a_restart_our_connections_load_their_scripts_before_running_them(
        redis, redis_url, namespace):
    """A worker's connection used both scripts before the server forgot them all (a
    restart: every script gone, every connection dropped); another client then loads
    only the second. The worker's next request still runs them in call order: its new
    connection loads what it runs within that request, instead of trusting what it knew
    before and having the first refused with NOSCRIPT and repeated after the second."""
    sender = connect(redis_url)
    job, events = f"{{{namespace}}}:job:j", f"{{{namespace}}}:events:j"
    await redis.set(job, orjson.dumps({"status": "running", "attempt": 1, "worker": "w"}))
    calls = [("progress_many", [job, events], ["w", 60, 100, 1, "", 1, '{"n":1}']),
             ("progress", [job, events], [1, "w", "", 60, 100, '{"n":2}'])]
    assert await scripts.run_many(sender, calls) == [[1], 1]
    await redis.script_flush()
    await redis.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    await redis.script_load(scripts.load_all()["progress"].source)
    calls = [("progress_many", [job, events], ["w", 60, 100, 1, "", 1, '{"n":3}']),
             ("progress", [job, events], [1, "w", "", 60, 100, '{"n":4}'])]
    try:
        answers = await scripts.run_many(sender, calls)
    except RedisConnectionError:  # the dropped connection, noticed on use: try again, as the
        answers = await scripts.run_many(sender, calls)  # worker's loops do
    assert answers == [[1], 1]
    assert [f[b"d"] for _, f in await redis.xrange(events)] == [
        b'{"n":1}', b'{"n":2}', b'{"n":3}', b'{"n":4}']
    await redis.delete(job, events)
    await sender.aclose()
