"""Claiming: move envelopes from the queues to this worker's processing list, and start them.

A claimed job does not wait for a round trip of its own: its start (`start.lua`: the
`running` record, unless the job was cancelled, finished or taken by a newer attempt
meanwhile) goes with the finisher's next round trip, ahead of anything else of that job,
and its task runs as soon as that request is on the socket, before the answer. The
task's own writes (events, steps) wait for the answer; a job whose start is refused is
stopped and leaves no trace (see `Finisher` and `JobContext.confirm`).

Under a backlog one script claims a batch (`claim.lua`: jobs without a concurrency key
first, then the queue's keys in turn, each within its limit). Once the slots are full
the finisher takes over: each of its round trips writes the outcomes of the jobs that
ended, the starts of those claimed since, and claims successors for the slots the ended
jobs leave (`refill`). When the queues are empty the claimer blocks in BLPOP on the
queues' wake-up lists, on a connection of its own, with the claim script queued behind
it: every push adds a token there, so an idle worker claims a new job as soon as it is
pushed. (An envelope some other producer LPUSHes on a queue without a token is claimed
within a second.)
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from typing import Any, Protocol

from src.queue.connection import REDIS_DOWN
from src.queue.models import Envelope, Status, make_record
from src.queue.ops import Call, Ops, Started

from .recovery import parse_or_bury

log = logging.getLogger("agentq.worker")

BLOCK_S = 1.0  # longest BLMOVE wait, so a stop request is seen within a second


class Host(Protocol):
    """What the claimer needs of its worker."""

    id: str

    @property
    def stopping(self) -> bool: ...
    def free_slots(self) -> int: ...
    def claimable(self, freed: int) -> int: ...
    def exhausted(self) -> bool: ...
    def idle(self) -> bool: ...
    def request_stop(self) -> None: ...
    def launch(self, env: Envelope, raw: bytes, record: dict[str, Any],
               start: Call[Started]) -> None: ...
    async def wait_for_slot(self, timeout_s: float) -> None: ...
    async def sleep(self, seconds: float) -> None: ...


class Claimer:
    def __init__(self, ops: Ops, blocking: Any, host: Host, processing: str,
                 queues: Sequence[str], *, burst: bool = False) -> None:
        self.ops = ops
        self.blocking = blocking
        self.host = host
        self.processing = processing
        self.queues = [ops.keys.queue(q) for q in queues]
        self.wakes = [ops.keys.wake(q) for q in queues]
        self.burst = burst
        self.claimed = 0
        #: the last claim took all it asked for: more jobs are likely waiting
        self.backlog = True

    async def loop(self) -> None:
        host, delay = self.host, 0.1
        while not host.stopping:
            free = host.free_slots()
            if free <= 0:
                if host.exhausted() and host.idle():
                    host.request_stop()
                    return
                await host.wait_for_slot(BLOCK_S)
                continue
            try:
                token: Any = True
                if self.backlog:
                    raws = await self.ops.claim(self.processing, self.queues, free)
                else:  # wait for a wake-up token of any queue (or a second), then claim
                    token, raws = await self.ops.wait_and_claim(
                        self.blocking, self.wakes, 0.1 if self.burst else BLOCK_S,
                        self.processing, self.queues, free)
                    delay = 0.1
                self.backlog = len(raws) == free
                if raws:
                    await self.start(raws)
                elif token is None and self.burst and host.idle():
                    host.request_stop()
            except REDIS_DOWN as exc:
                log.warning("worker %s: Redis unavailable (%s); retrying in %.1fs", host.id, exc,
                            delay)
                await host.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 5.0)
                self.backlog = True

    def refill(self, freed: int) -> Call[list[bytes]] | None:
        """Under a backlog, a claim for the slots `freed` ending jobs will leave, to go in
        the same round trip as their outcomes (`Finisher`); None when there is none to make.
        What it takes goes to `took`."""
        if not self.backlog or self.host.stopping:
            return None
        n = self.host.claimable(freed)
        return self.ops.claim(self.processing, self.queues, n) if n > 0 else None

    async def took(self, raws: list[bytes], asked: int) -> None:
        """Start what a `refill` claim took."""
        self.backlog = len(raws) == asked
        await self.start(raws)

    async def start(self, raws: list[bytes]) -> None:
        """Hand claimed envelopes to the worker; each one's start call (which writes its
        `running` record) goes with the finisher's next round trip, and its task runs as
        soon as that is sent (see the module's docstring)."""
        now = time.time()
        for raw in raws:
            if (env := await parse_or_bury(self.ops, self.processing, raw)) is None:
                continue
            record = make_record(env, Status.RUNNING, started_at=now, worker=self.host.id)
            self.claimed += 1
            self.host.launch(env, raw, record, self.ops.start(env, raw, self.processing, record))
