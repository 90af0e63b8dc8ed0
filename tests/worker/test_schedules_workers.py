"""Acceptance: four worker processes, one schedule ticking every second, one job per tick."""

from __future__ import annotations

import asyncio
import math
import time

import orjson
import pytest

from src.queue.models import parse_iso

QUEUE = "cron-accept"  # the workers take from `default`: the jobs stay to be counted
SCHEDULES = orjson.dumps([{"name": "every-second", "task": "echo", "cron": "* * * * * *",
                           "payload": {"from": "cron"}, "queue": QUEUE}]).decode()
RUN_S = 30


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_four_workers_enqueue_each_tick_of_30_seconds_once(spawn_worker, client, redis):
    workers = [spawn_worker(env={"AGENTQ_SCHEDULES": SCHEDULES}) for _ in range(4)]
    deadline = time.monotonic() + 30
    while await redis.zcard(client.keys.workers) < 4:
        assert time.monotonic() < deadline, "the workers did not start:\n" + workers[0].log()
        assert all(w.proc.poll() is None for w in workers), workers[0].log()
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.5)  # the last one's scheduler is past its first pass
    t0 = time.time()
    await asyncio.sleep(RUN_S)
    t1 = time.time()
    for w in workers:
        assert w.proc.poll() is None, w.log()
        assert w.stop() == 0, w.log()

    raw = await redis.lrange(client.keys.queue(QUEUE), 0, -1)
    envelopes = [orjson.loads(r) for r in raw]
    ticks = [parse_iso(e["schedule"]["tick"]) for e in envelopes]
    assert len({e["id"] for e in envelopes}) == len(envelopes)
    assert len(set(ticks)) == len(ticks), "a tick was enqueued twice"
    assert all(e["schedule"]["name"] == "every-second" and e["payload"] == {"from": "cron"}
               for e in envelopes)
    window = [t for t in ticks if t0 < t <= t1]
    print(f"\n{len(window)} jobs for the ticks of {t1 - t0:.1f} s; {len(envelopes)} jobs and "
          f"{len(set(ticks))} distinct ticks in all, from 4 workers")
    assert abs(len(window) - RUN_S) <= 1, (len(window), t0, t1)
    # no tick inside the window was left out
    expected = set(range(math.ceil(t0), math.floor(t1) + 1))
    assert expected - {int(t) for t in window} <= {math.ceil(t0), math.floor(t1)}
    last = await redis.zscore(client.keys.schedules, "every-second")
    assert last == max(ticks)
