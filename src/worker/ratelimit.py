"""One rate limit shared by every worker (requests and tokens per period), in Redis.

The arithmetic is one Lua script, `src/queue/lua/ratelimit.lua`, so that eight
replicas asking at the same moment still see one consistent count. Asking is cheap
(one round trip); a refused caller sleeps for what the script says, plus a little
jitter, and asks again, for at most `max_wait_s`, after which the job is handed back to
the queue with `Retry` so it does not hold a worker slot while the limit is exhausted.

Tokens are counted up front, from an estimate (`reserve`); once the request's real use
is known, `correct` gives back what it did not use, or adds what it used beyond the
estimate (`src/queue/lua/ratelimit_adjust.lua`), so the window tracks real spending.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from src.queue import ops

from .errors import Retry

log = logging.getLogger("agentq.ratelimit")


@dataclass(frozen=True, slots=True)
class Reservation:
    """A grant: the tokens counted for it and the window's slot they went into."""

    tokens: int
    slot: int


class RateLimiter:
    """`await limiter.acquire(tokens)` before each request to the limited service.

    :param redis: a `redis.asyncio.Redis`
    :param key: the hash holding the counts, e.g. `ctx.keys.ratelimit("llm")`
    :param rpm: most requests per period, None for no limit
    :param tpm: most tokens per period, None for no limit
    :param period_s: the period (60 for per-minute limits)
    :param slots: the window's resolution; capacity comes back up to period/slots late
    :param max_wait_s: the longest `acquire` waits before raising `Retry`
    """

    def __init__(
        self,
        redis: Any,
        key: str,
        *,
        rpm: int | None = None,
        tpm: int | None = None,
        period_s: float = 60.0,
        slots: int = 20,
        max_wait_s: float = 30.0,
    ) -> None:
        self.key = key
        self.rpm = rpm or 0
        self.tpm = tpm or 0
        self.period_ms = max(1, int(period_s * 1000))
        self.slots = max(1, slots)
        self.max_wait_s = max_wait_s
        self.redis = redis

    @property
    def enabled(self) -> bool:
        return bool(self.rpm or self.tpm)

    async def ask(self, tokens: int = 0, now_ms: int | None = None) -> int:
        """0 if granted (and counted), else the milliseconds to wait before asking again."""
        if not self.enabled:
            return 0
        return await ops.ratelimit(self.redis, self.key, rpm=self.rpm, tpm=self.tpm,
                                   tokens=int(tokens), period_ms=self.period_ms,
                                   slots=self.slots, now_ms=now_ms)

    async def acquire(self, tokens: int = 0) -> float:
        """Wait until the request fits the limit; the seconds waited.

        Raises the queue's `Retry` when the wait would pass `max_wait_s`.
        """
        if not self.enabled:
            return 0.0
        start = time.monotonic()
        await self._wait(tokens, start)
        return time.monotonic() - start

    async def reserve(self, tokens: int = 0) -> Reservation | None:
        """As `acquire`, but the grant can be corrected later with `correct`; None when
        no tokens were counted (no token limit)."""
        if not self.enabled:
            return None
        answer = await self._wait(tokens, time.monotonic(), want_slot=True)
        if not self.tpm:
            return None
        return Reservation(min(max(0, int(tokens)), self.tpm), -answer)

    async def correct(self, reservation: Reservation | None, used: int,
                      now_ms: int | None = None) -> int:
        """Count `used` tokens instead of the reservation's estimate; the tokens changed."""
        if reservation is None or not self.tpm:
            return 0
        delta = max(0, int(used)) - reservation.tokens
        if delta == 0:
            return 0
        return await ops.ratelimit_adjust(self.redis, self.key, delta=delta,
                                          slot=reservation.slot, period_ms=self.period_ms,
                                          slots=self.slots, now_ms=now_ms)

    async def _wait(self, tokens: int, start: float, *, want_slot: bool = False) -> int:
        """Ask until granted; the script's answer to the grant (0, or minus its slot)."""
        while True:
            answer = await ops.ratelimit(self.redis, self.key, rpm=self.rpm, tpm=self.tpm,
                                         tokens=int(tokens), period_ms=self.period_ms,
                                         slots=self.slots, want_slot=want_slot)
            wait_ms = answer if answer > 0 else 0
            waited = time.monotonic() - start
            if wait_ms <= 0:
                if waited > 0.5:
                    log.info("rate limit %s: waited %.1fs", self.key, waited)
                return answer
            # Jitter spreads the workers that were refused together.
            delay = wait_ms / 1000 + random.uniform(0, min(0.25, wait_ms / 4000))
            if waited + delay > self.max_wait_s:
                raise Retry(after_s=delay, message=f"rate limit {self.key} exhausted for "
                                                   f"{delay:.1f}s")
            await asyncio.sleep(delay)
