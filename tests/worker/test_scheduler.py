"""The scheduler loop on a real Valkey: one job per tick, missed ticks skipped or caught up."""

from __future__ import annotations

import asyncio
import time

import orjson

from src.queue import Client
from src.queue.models import iso
from src.queue.schedules import Schedule, last_runs
from src.worker.scheduler import Scheduler

from ..support import free_port

QUEUE = "cron-test"  # no worker takes from it: the jobs stay where the test can count them


def _every_second(catch_up: bool = False) -> Schedule:
    return Schedule("tick", "echo", "* * * * * *", {"hello": "cron"}, QUEUE, catch_up=catch_up)


def _scheduler(client: Client, *schedules: Schedule) -> Scheduler:
    return Scheduler(client, schedules, asyncio.sleep, lambda: False)


async def _enqueued_ticks(client: Client) -> list[str]:
    """The `schedule.tick` of every job on the queue, oldest first."""
    raw = await client.redis.lrange(client.keys.queue(QUEUE), 0, -1)
    envelopes = [orjson.loads(r) for r in reversed(raw)]
    assert all(e["schedule"]["name"] == "tick" for e in envelopes)
    return [e["schedule"]["tick"] for e in envelopes]


def _ticks(t0: int, *offsets: int) -> list[str]:
    return [iso(t0 + o) for o in offsets]


async def test_ticks_missed_while_no_worker_ran_are_skipped(client):
    t0 = int(time.time()) - 100
    first = _scheduler(client, _every_second())
    await first.run_pass(t0 + 0.5)       # starts: nothing due yet
    await first.run_pass(t0 + 3.2)       # three ticks went by while it ran
    assert await _enqueued_ticks(client) == _ticks(t0, 1, 2, 3)

    restarted = _scheduler(client, _every_second())  # no scheduler ran from t0+3.2 to t0+10.5
    await restarted.run_pass(t0 + 10.5)
    await restarted.run_pass(t0 + 12.1)
    assert await _enqueued_ticks(client) == _ticks(t0, 1, 2, 3, 11, 12)
    assert (await last_runs(client.redis, client.keys, ["tick", "other"])) == {
        "tick": t0 + 12, "other": None}


async def test_catch_up_enqueues_the_most_recent_missed_tick_once(client):
    t0 = int(time.time()) - 100
    first = _scheduler(client, _every_second(True))
    await first.run_pass(t0 + 0.5)
    await first.run_pass(t0 + 1.2)
    assert await _enqueued_ticks(client) == _ticks(t0, 1)

    restarted = _scheduler(client, _every_second(True))
    await restarted.run_pass(t0 + 10.5)   # t0+2 .. t0+10 missed: only t0+10 runs
    await restarted.run_pass(t0 + 10.7)
    again = _scheduler(client, _every_second(True))  # another worker starting meanwhile
    await again.run_pass(t0 + 10.9)
    await restarted.run_pass(t0 + 11.2)
    assert await _enqueued_ticks(client) == _ticks(t0, 1, 10, 11)


async def test_a_schedule_that_never_ran_has_missed_nothing(client):
    t0 = int(time.time()) - 100
    await _scheduler(client, _every_second(True)).run_pass(t0 + 5.5)
    assert await _enqueued_ticks(client) == []


async def test_workers_at_the_same_tick_make_one_job_that_says_which_tick(client):
    t0 = int(time.time()) - 100
    workers = [_scheduler(client, _every_second()) for _ in range(4)]
    await asyncio.gather(*(w.run_pass(t0 + 0.5) for w in workers))
    await asyncio.gather(*(w.run_pass(t0 + 1.01 + i / 100) for i, w in enumerate(workers)))
    assert await _enqueued_ticks(client) == _ticks(t0, 1)
    assert sum(w.enqueued for w in workers) == 1
    job_id = await client.redis.get(client.keys.idem(f"schedule:tick:{t0 + 1}"))
    record = await client.get(job_id.decode())
    assert record["schedule"] == {"name": "tick", "tick": iso(t0 + 1)}
    assert (record["type"], record["payload"], record["queue"]) == ("echo", {"hello": "cron"},
                                                                    QUEUE)


async def test_the_loop_waits_for_the_next_tick_and_enqueues_it(client):
    stop = asyncio.Event()

    async def sleep(seconds: float) -> None:
        assert 0 <= seconds <= 1.0
        try:
            await asyncio.wait_for(stop.wait(), seconds)
        except TimeoutError:
            pass

    scheduler = Scheduler(client, [_every_second()], sleep, stop.is_set)
    task = asyncio.create_task(scheduler.loop())
    await asyncio.sleep(2.6)
    stop.set()
    await asyncio.wait_for(task, 2)
    ticks = await _enqueued_ticks(client)
    assert 2 <= len(ticks) <= 3 and len(set(ticks)) == len(ticks)


async def test_the_loop_outlives_a_redis_that_does_not_answer(settings):
    down = Client.from_url(f"redis://127.0.0.1:{free_port()}/0", settings.namespace,
                           settings=settings, socket_connect_timeout=0.2)
    stopped_at = time.monotonic() + 2.5
    scheduler = Scheduler(down, [_every_second()], asyncio.sleep,
                          lambda: time.monotonic() > stopped_at)
    try:
        await asyncio.wait_for(scheduler.loop(), 10)  # returns at the stop, no error
    finally:
        await down.close()
    assert scheduler.live_since is None and scheduler.enqueued == 0


def test_a_worker_with_a_bad_schedule_stops_at_start_naming_it(spawn_worker):
    bad_cron = spawn_worker(env={"AGENTQ_SCHEDULES": '[{"name": "a", "task": "add", '
                                                     '"cron": "* * * *"}]'})
    bad_payload = spawn_worker(env={"AGENTQ_SCHEDULES": '[{"name": "b", "task": "add", '
                                                        '"cron": "@daily", "payload": {"x": 1}}]'})
    assert bad_cron.wait(30) == 2 and bad_payload.wait(30) == 2
    assert "AGENTQ_SCHEDULES entry #1 ('a'): invalid cron expression '* * * *'" in bad_cron.log()
    assert "schedule 'b': invalid payload for task 'add': y" in bad_payload.log()
