"""Waits for a signal that free the worker's slot, and replay from a step (real Valkey,
worker processes)."""

import pytest

from src.queue import JobConflict, JobNotFound

from .test_lifecycle import _status, _terminal, wait_for

TASKS = ["--tasks", "tests.worker.sample_tasks"]


async def _runs(redis, client, job_id, name):
    return int(await redis.get(f"test:{job_id}:{name}") or 0)


async def test_a_waiting_job_frees_its_slot_and_resumes_with_the_signal(client, worker, redis):
    worker(concurrency=1, extra_args=[*TASKS, "--id", "wait-one"])
    job = await client.enqueue("review_flow", {})
    waiting = await wait_for(lambda: _status(client, job.id, "waiting"))
    assert waiting["waiting_for"]["name"] == "approve" and waiting["waiting_for"]["until"]
    # the worker's only slot is free: another job runs to its end meanwhile
    other = await client.enqueue("counted", {"seconds": 0.1})
    done = await client.wait(other.id, 10)
    assert done["status"] == "succeeded" and done["worker"] == "wait-one"
    assert (await client.get(job.id))["status"] == "waiting"
    assert await redis.llen(client.keys.processing("wait-one")) == 0

    resumed = await client.signal(job.id, "approve", {"ok": True})
    assert resumed["status"] == "queued" and "waiting_for" not in resumed
    rec = await wait_for(lambda: _terminal(client, job.id))
    assert rec["status"] == "succeeded", rec
    assert rec["result"] == {"decision": {"ok": True}, "steps": ["draft", "publish"],
                             "attempt": 1}
    # each step's side effect happened once, though the task ran twice
    assert await _runs(redis, client, job.id, "draft") == 1
    assert await _runs(redis, client, job.id, "publish") == 1
    statuses = [e["status"] for _, e in await client.events(job.id) if e["type"] == "status"]
    assert statuses == ["running", "waiting", "queued", "running", "succeeded"]
    assert await redis.zcard(client.keys.waiting) == 0
    assert await redis.hlen(client.keys.waiting_envelopes) == 0


async def test_a_worker_killed_while_a_job_waits_changes_nothing(client, worker, redis):
    a = worker(concurrency=2, extra_args=[*TASKS, "--id", "wait-a"])
    job = await client.enqueue("review_flow", {})
    await wait_for(lambda: _status(client, job.id, "waiting"))
    a.kill()
    a.wait(10)
    b = worker(concurrency=2, extra_args=[*TASKS, "--id", "wait-b"])
    # b's recovery runs within a heartbeat and the dead worker times out after 3 s
    await wait_for(lambda: _gone(redis, client, "wait-a"), timeout=10)
    rec = await client.get(job.id)
    assert rec["status"] == "waiting" and rec["attempt"] == 1
    await client.signal(job.id, "approve", "yes")
    rec = await wait_for(lambda: _terminal(client, job.id))
    assert rec["status"] == "succeeded" and rec["worker"] == "wait-b"
    assert rec["result"]["decision"] == "yes" and rec["attempt"] == 1
    assert await _runs(redis, client, job.id, "draft") == 1
    b.stop()


async def _gone(redis, client, worker_id):
    return await redis.zscore(client.keys.workers, worker_id) is None


async def test_a_signal_sent_before_the_wait_is_seen(client, worker, redis):
    worker()
    job = await client.enqueue("review_flow", {"pre_s": 1.0})
    await wait_for(lambda: _status(client, job.id, "running"))
    rec = await client.signal(job.id, "approve", {"early": True})
    assert rec["status"] == "running"  # stored for the wait to come
    rec = await wait_for(lambda: _terminal(client, job.id))
    assert rec["status"] == "succeeded" and rec["result"]["decision"] == {"early": True}
    statuses = [e["status"] for _, e in await client.events(job.id) if e["type"] == "status"]
    assert "waiting" not in statuses


async def test_a_wait_that_runs_out_fails_the_job_unless_caught(client, worker):
    worker()
    failing = await client.enqueue("review_flow", {"wait_s": 0.5})
    caught = await client.enqueue("review_or_give_up", {"wait_s": 0.5})
    rec = await wait_for(lambda: _terminal(client, failing.id))
    assert rec["status"] == "failed" and rec["error"]["type"] == "timeout"
    assert "approve" in rec["error"]["message"] and rec["attempt"] == 1
    rec = await wait_for(lambda: _terminal(client, caught.id))
    assert rec["status"] == "succeeded" and rec["result"] == {"decision": None, "timed_out": True}


async def test_cancel_a_waiting_job(client, worker, redis):
    worker()
    job = await client.enqueue("review_flow", {})
    await wait_for(lambda: _status(client, job.id, "waiting"))
    rec = await client.cancel(job.id)
    assert rec["status"] == "cancelled"
    assert await redis.zcard(client.keys.waiting) == 0
    assert await redis.hlen(client.keys.waiting_envelopes) == 0
    with pytest.raises(JobConflict):
        await client.signal(job.id, "approve", {})
    with pytest.raises(JobNotFound):
        await client.signal("01NOSUCHJOB0000000000000000", "approve", {})


async def test_a_sync_task_waits_in_its_thread(client, worker):
    worker()
    job = await client.enqueue("sync_review", {})
    await wait_for(lambda: _status(client, job.id, "waiting"))
    await client.signal(job.id, "approve", [1, 2])
    rec = await wait_for(lambda: _terminal(client, job.id))
    assert rec["status"] == "succeeded" and rec["result"] == {"decision": [1, 2]}


async def test_replay_from_a_step_runs_only_the_steps_from_there(client, worker, redis):
    worker()
    job = await client.enqueue("three_steps", {"tone": "dry"})
    rec = await wait_for(lambda: _terminal(client, job.id))
    assert rec["status"] == "succeeded"
    assert [s["name"] for s in await client.steps(job.id)] == ["s1", "s2", "s3"]

    replay = await client.replay(job.id, "s2", {"tone": "playful"}, has_payload=True)
    assert replay["replay_of"] == job.id and replay["id"] != job.id
    done = await wait_for(lambda: _terminal(client, replay["id"]))
    assert done["status"] == "succeeded" and done["replay_of"] == job.id
    assert done["result"] == {"steps": ["s1", "s2", "s3"], "tone": "playful"}
    assert await _runs(redis, client, replay["id"], "s1") == 0  # copied, not run
    assert await _runs(redis, client, replay["id"], "s2") == 1
    assert await _runs(redis, client, replay["id"], "s3") == 1
    original = await client.get(job.id)
    assert original["result"] == {"steps": ["s1", "s2", "s3"], "tone": "dry"}
    with pytest.raises(LookupError):
        await client.replay(job.id, "s9")


async def test_replay_after_a_wait_keeps_the_signal_it_got(client, worker, redis):
    worker()
    job = await client.enqueue("review_flow", {})
    await wait_for(lambda: _status(client, job.id, "waiting"))
    await client.signal(job.id, "approve", {"ok": 1})
    await wait_for(lambda: _terminal(client, job.id))
    names = [s["name"] for s in await client.steps(job.id)]
    assert names == ["draft", "wait:approve", "publish"]
    replay = await client.replay(job.id, "publish")
    done = await wait_for(lambda: _terminal(client, replay["id"]))
    assert done["status"] == "succeeded" and done["result"]["decision"] == {"ok": 1}
    assert await _runs(redis, client, replay["id"], "draft") == 0
    assert await _runs(redis, client, replay["id"], "publish") == 1


async def test_a_waiting_job_and_its_signal_survive_a_redis_restart(spawn_worker, namespace):
    """Valkey (append-only) restarted while a job waits, then again after the signal was
    stored but before any worker ran: the job resumes with the signal."""
    from src.queue import Client
    from src.queue.settings import Settings
    from tests.support import ValkeyServer

    server = ValkeyServer(appendonly=True).start()
    settings = Settings(REDIS_URL=server.url, AGENTQ_NAMESPACE=namespace)
    client = Client.from_url(server.url, namespace, settings=settings)
    try:
        w = spawn_worker(redis_url=server.url, extra_args=TASKS)
        job = await client.enqueue("review_flow", {})
        await wait_for(lambda: _status(client, job.id, "waiting"), timeout=15)
        w.kill()
        w.wait(10)
        server.stop()
        server.start()
        rec = await wait_for(lambda: _once_up(client.get(job.id)), timeout=10)
        assert rec["status"] == "waiting"
        await client.signal(job.id, "approve", {"after": "restart"})
        server.stop()
        server.start()
        spawn_worker(redis_url=server.url, extra_args=TASKS)
        rec = await wait_for(lambda: _once_up(_terminal(client, job.id)), timeout=30,
                             interval=0.2)
        assert rec["status"] == "succeeded" and rec["result"]["decision"] == {"after": "restart"}
        assert int(await client.redis.get(f"test:{job.id}:draft")) == 1
    finally:
        await client.close()
        server.cleanup()


async def _once_up(coro):
    """What `coro` gives, or None while the restarted server's connections are renewed."""
    from src.queue import RedisUnavailable

    try:
        return await coro
    except RedisUnavailable:
        return None
