"""Workers that die, stop or freeze: nothing is lost, stale writes are refused."""

import asyncio
import signal
import time

from .test_lifecycle import _status, _terminal, wait_for

TASKS = ["--tasks", "tests.worker.sample_tasks"]


async def test_kill_9_mid_job_is_finished_by_another_worker(client, worker, redis):
    a = worker(concurrency=2, extra_args=[*TASKS, "--id", "crash-a"])
    job = await client.enqueue("counted", {"seconds": 1.5})
    first = await wait_for(lambda: _progress_at_least(client, job.id, 20))
    assert first["worker"] == "crash-a" and first["attempt"] == 1
    b = worker(concurrency=2, extra_args=[*TASKS, "--id", "crash-b"])
    a.kill()
    killed = time.monotonic()
    rec = await wait_for(lambda: _terminal(client, job.id), timeout=20)
    assert rec["status"] == "succeeded" and rec["attempt"] == 2
    assert rec["worker"] == "crash-b" and rec["result"] == {"attempt": 2}
    assert int(await redis.get(f"{client.keys.prefix}:runs:{job.id}")) == 2
    # recovery within worker timeout (3 s) + a heartbeat, plus the job's own 1.5 s
    assert time.monotonic() - killed < 3 + 1 + 1.5 + 2
    assert (await client.queues())["queues"][0]["recovered"] == 1
    b.stop()


async def test_kill_9_on_the_last_attempt_dead_letters_as_lost(client, worker):
    a = worker()
    job = await client.enqueue("counted", {"seconds": 3}, max_attempts=1)
    await wait_for(lambda: _status(client, job.id, "running"))
    a.kill()
    worker()
    rec = await wait_for(lambda: _terminal(client, job.id), timeout=20)
    assert rec["status"] == "failed" and rec["error"]["type"] == "lost"
    assert [d["id"] for d in await client.dead()] == [job.id]


async def test_sigterm_lets_running_jobs_finish_and_exits_0(client, worker):
    a = worker()
    jobs = [await client.enqueue("counted", {"seconds": 1.0}) for _ in range(3)]
    await wait_for(lambda: _all_running(client, jobs))
    a.terminate()
    assert a.wait(20) == 0
    recs = [await client.get(j.id) for j in jobs]
    assert [r["status"] for r in recs] == ["succeeded"] * 3


async def test_sigterm_past_the_grace_period_puts_jobs_back(client, worker):
    a = worker(env={"AGENTQ_SHUTDOWN_GRACE_S": "0.3"})
    job = await client.enqueue("counted", {"seconds": 4})
    await wait_for(lambda: _status(client, job.id, "running"))
    a.terminate()
    assert a.wait(20) == 0
    rec = await client.get(job.id)
    assert rec["status"] == "queued" and rec["attempt"] == 0
    worker()
    rec = await wait_for(lambda: _terminal(client, job.id), timeout=20)
    assert rec["status"] == "succeeded" and rec["attempt"] == 1


async def test_frozen_worker_cannot_overwrite_the_newer_attempt(client, worker, redis):
    """SIGSTOP a worker mid-job: it is declared dead, its job runs again elsewhere; when it
    wakes up, its progress and result for the old attempt are refused (fencing)."""
    a = worker()
    job = await client.enqueue("counted", {"seconds": 2})
    await wait_for(lambda: _progress_at_least(client, job.id, 10))
    a.proc.send_signal(signal.SIGSTOP)
    try:
        b = worker()
        rec = await wait_for(lambda: _terminal(client, job.id), timeout=25)
        assert rec["status"] == "succeeded" and rec["attempt"] == 2
    finally:
        a.proc.send_signal(signal.SIGCONT)
    await asyncio.sleep(3)  # let the old attempt try to write
    after = await client.get(job.id)
    assert after == rec
    assert "no longer" in a.log() or "refused" in a.log()
    b.stop()


async def _progress_at_least(client, job_id, p):
    rec = await client.get(job_id)
    return rec if rec and rec["status"] == "running" and rec["progress"] >= p else None


async def _all_running(client, jobs):
    recs = [await client.get(j.id) for j in jobs]
    return all(r["status"] == "running" for r in recs)


async def test_an_envelope_its_own_worker_is_not_running_is_put_back(client, worker, redis):
    """A claim whose start was lost (Redis went away in between) leaves an envelope in a
    live worker's processing list; the worker's own sweep puts it back, and it runs."""
    import orjson

    worker()
    live = await wait_for(client.workers)
    env = {"v": 1, "id": "01ORPHAN000000000000000000", "type": "add", "queue": "default",
           "payload": {"x": 1, "y": 2}, "attempt": 1, "max_attempts": 3, "enqueued_at": time.time()}
    await redis.lpush(client.keys.processing(live[0]["id"]), orjson.dumps(env))
    rec = await wait_for(lambda: _terminal(client, env["id"]), timeout=10)
    assert rec["status"] == "succeeded" and rec["result"] == 3


async def test_redis_restart_mid_job_loses_nothing(spawn_worker, namespace):
    """Valkey (append-only) stopped while a job runs and started again 1.5 s later: the
    worker reconnects by itself and the job ends `succeeded`, not stuck."""
    from src.queue import Client
    from src.queue.settings import Settings
    from tests.support import ValkeyServer

    server = ValkeyServer(appendonly=True).start()
    settings = Settings(REDIS_URL=server.url, AGENTQ_NAMESPACE=namespace)
    client = Client.from_url(server.url, namespace, settings=settings)
    try:
        spawn_worker(redis_url=server.url)
        job = await client.enqueue("sleep", {"seconds": 3, "steps": 6})
        await wait_for(lambda: _status(client, job.id, "running"), timeout=15)
        server.stop()
        await asyncio.sleep(1.5)
        server.start()
        rec = await wait_for(lambda: _terminal_or_none(client, job.id), timeout=30, interval=0.2)
        assert rec["status"] == "succeeded"
    finally:
        await client.close()
        server.cleanup()


async def _terminal_or_none(client, job_id):
    from src.queue import RedisUnavailable

    try:
        return await _terminal(client, job_id)
    except RedisUnavailable:
        return None
