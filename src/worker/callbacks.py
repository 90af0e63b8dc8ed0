"""Delivering completion callbacks from the `{ns}:callbacks` schedule.

Every script that ends a job with a `callback_url` schedules its callback in the same
step. Any worker takes due callbacks on a lease, POSTs the job's record (signed, SSRF
guard included: `src/queue/callbacks.py`), and then drops it, or puts it back for a
later attempt with back-off. A worker that stops or dies mid-delivery leaves the lease
to run out, and another worker delivers: at least once, never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson

from src.queue.callbacks import Delivery, backoff_s, post_once
from src.queue.connection import REDIS_DOWN
from src.queue.models import TERMINAL
from src.queue.ops import CallbackDue, Ops

log = logging.getLogger("agentq.callbacks")

_MAX_IN_FLIGHT = 16
_LEASE_MARGIN_S = 5.0


class CallbackSender:
    def __init__(self, ops: Ops) -> None:
        self.ops = ops
        self._in_flight: set[asyncio.Task[None]] = set()

    @property
    def lease_ms(self) -> int:
        return int((self.ops.settings.callback_timeout_s + _LEASE_MARGIN_S) * 1000)

    async def poll(self) -> None:
        """Start delivering the callbacks that are due (as many as there is room for)."""
        room = _MAX_IN_FLIGHT - len(self._in_flight)
        if room <= 0:
            return
        for due in await self.ops.callbacks_due(self.lease_ms, room):
            task = asyncio.create_task(self._deliver(due), name=f"callback-{due.job_id}")
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _deliver(self, due: CallbackDue) -> None:
        s = self.ops.settings
        try:
            raw = await self.ops.redis.get(self.ops.keys.job(due.job_id))
            record = orjson.loads(raw) if raw else None
            if not isinstance(record, dict):  # expired
                await self.ops.callback_done(due)
                return
            url = record.get("callback_url")
            if not url or record["status"] not in TERMINAL:  # running again
                await self.ops.callback_done(due)
                return
            outcome, reason = await post_once(record, url, s)
            if outcome is Delivery.RETRY and due.attempt < s.callback_attempts:
                delay = backoff_s(due.attempt, s)
                log.info("callback for job %s failed (%s), attempt %d of %d; next in %.1fs",
                         due.job_id, reason, due.attempt, s.callback_attempts, delay)
                await self.ops.callback_done(due, int((time.time() + delay) * 1000))
                return
            if outcome is not Delivery.DELIVERED:
                log.warning("callback for job %s not delivered (%s); giving up", due.job_id,
                            reason)
            await self.ops.callback_done(due)
        except REDIS_DOWN as exc:  # the lease runs out and the callback is taken again
            log.warning("callback for job %s: Redis unavailable (%s)", due.job_id, exc)

    async def close(self, timeout_s: float) -> None:
        """Let deliveries in flight end within `timeout_s`; the rest come back by lease."""
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=timeout_s)
        for task in list(self._in_flight):
            task.cancel()
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
