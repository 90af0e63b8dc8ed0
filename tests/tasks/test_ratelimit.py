"""The shared rate limit: the Lua window's arithmetic, and the waiting around it.

Every test runs `ratelimit.lua` on the session's real Valkey, each on a key of its own
namespace; most pass `now_ms` so the arithmetic is checked at exact instants.
"""

from __future__ import annotations

import random
import time

import pytest

from src.worker import Retry
from src.worker.ratelimit import RateLimiter


@pytest.fixture
def key(namespace: str) -> str:
    return f"{{{namespace}}}:ratelimit:llm"


@pytest.fixture
async def limiter(redis, key):
    """`limiter(rpm=..., ...)`: a RateLimiter on this test's key; the key is deleted after."""

    def make(**kw) -> RateLimiter:
        kw.setdefault("period_s", 60)
        return RateLimiter(redis, key, **kw)

    yield make
    await redis.delete(key)


async def test_unlimited_grants_without_touching_redis(limiter, redis, key) -> None:
    lim = limiter()
    assert not lim.enabled
    assert await lim.ask(10_000) == 0 and await lim.acquire(10_000) == 0
    assert not await redis.exists(key)


async def test_requests_per_period(limiter) -> None:
    lim = limiter(rpm=3, slots=20)  # 20 slots of 3 s
    t0 = 1_000_000_020_000  # on a slot boundary
    assert [await lim.ask(0, t0 + i) for i in range(3)] == [0, 0, 0]
    wait = await lim.ask(0, t0 + 10)
    # The oldest slot (the one at t0) leaves the window 21 slots after it began.
    assert wait == t0 + 21 * 3000 - (t0 + 10)
    assert await lim.ask(0, t0 + 21 * 3000 - 1) > 0
    assert await lim.ask(0, t0 + 21 * 3000) == 0


async def test_tokens_per_period(limiter) -> None:
    lim = limiter(tpm=1000, slots=10)  # 10 slots of 6 s
    t0 = 600_000_000
    assert await lim.ask(600, t0) == 0
    assert await lim.ask(300, t0 + 6000) == 0       # 900 used
    assert await lim.ask(200, t0 + 12000) == (t0 + 11 * 6000) - (t0 + 12000)  # wait for the first
    assert await lim.ask(100, t0 + 12000) == 0      # a smaller one still fits
    # A request bigger than the whole limit waits for an empty window, not forever.
    assert await lim.ask(5000, t0 + 13 * 6000) == 0


async def test_both_limits_answer_the_longer_wait(limiter) -> None:
    lim = limiter(rpm=100, tpm=100, slots=10)
    t0 = 6_000_000
    assert await lim.ask(100, t0) == 0
    assert await lim.ask(1, t0 + 1) == 11 * 6000 - 1


async def test_no_window_of_one_period_ever_holds_more_than_the_limit(limiter) -> None:
    """Random arrivals over ten periods: every sliding window stays within the limit."""
    rng = random.Random(7)
    limit, period = 5, 1000
    lim = limiter(rpm=limit, period_s=period / 1000, slots=7)
    now, granted = 50_000_000, []
    for _ in range(600):
        now += rng.randint(0, 40)
        if await lim.ask(0, now) == 0:
            granted.append(now)
    assert len(granted) >= 40  # it does let traffic through (the ideal is 50)
    for i, t in enumerate(granted):
        inside = [g for g in granted[i:] if g < t + period]
        assert len(inside) <= limit, (t, inside)


async def test_old_slots_are_deleted_and_the_key_expires(limiter, redis, key) -> None:
    lim = limiter(rpm=10, period_s=1, slots=4)
    t0 = 1_000_000
    for i in range(5):
        assert await lim.ask(7, t0 + i * 1000) == 0
    fields = await redis.hkeys(key)
    assert len(fields) <= 2  # requests only (no tpm): the slots of the last period
    assert 0 < await redis.pttl(key) <= 1000 + 2 * 250


async def test_acquire_waits_then_grants(limiter) -> None:
    lim = limiter(rpm=2, period_s=0.4, slots=4, max_wait_s=5)
    started = time.monotonic()
    for _ in range(4):
        await lim.acquire()
    assert time.monotonic() - started >= 0.4


async def test_acquire_hands_the_job_back_when_the_wait_is_too_long(limiter) -> None:
    lim = limiter(rpm=1, period_s=30, max_wait_s=0.5)
    await lim.acquire()
    with pytest.raises(Retry) as info:
        await lim.acquire()
    assert 25 < info.value.after_s < 35


async def test_without_now_the_script_uses_the_server_clock(limiter) -> None:
    lim = limiter(rpm=2, period_s=10)
    assert await lim.ask() == 0 and await lim.ask() == 0
    assert 9000 < await lim.ask() <= 10_500
