"""Claiming: move envelopes from the queues to this worker's processing list, and start them.

Under a backlog one script claims a batch (`claim.lua`: jobs without a concurrency key
first, then the queue's keys in turn, each within its limit) and the batch starts in one
pipeline. Once the slots are full the finisher takes over: each of its round trips
writes the outcomes of the jobs that ended, starts the jobs the previous one claimed,
and claims successors for the slots the ended jobs leave (`refill`), so a busy worker
pays about one round trip per batch of jobs. When the queues are empty the claimer
blocks in BLPOP on the queues' wake-up lists, on a connection of its own: every push
adds a token there, so an idle worker claims a new job as soon as it is pushed. (An
envelope some other producer LPUSHes on a queue without a token is claimed within a
second.)
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
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
    def launch(self, env: Envelope, raw: bytes, record: dict[str, Any]) -> None: ...
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
        self.unstarted: list[bytes] = []  # claimed by a refill, started by the next one
        self.starting = 0

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
        What it takes goes to `took`; the finisher's next round trip starts it."""
        if not self.backlog or self.host.stopping:
            return None
        n = self.host.claimable(freed)
        return self.ops.claim(self.processing, self.queues, n) if n > 0 else None

    def took(self, raws: list[bytes], asked: int) -> None:
        """Keep what a `refill` claim took for the next round trip; until then it holds the
        slots its ended jobs leave (a Redis outage leaves it on the processing list, where
        the orphan sweep puts it back)."""
        self.backlog = len(raws) == asked
        self.unstarted += raws

    @property
    def reserved(self) -> int:
        """Slots held by claimed jobs not started yet."""
        return len(self.unstarted) + self.starting

    async def begin(self, raws: list[bytes]) -> Starting:
        """The start calls of claimed envelopes (their slots stay reserved until `launch`)."""
        now, starting = time.time(), Starting([], [])
        for raw in raws:
            if (env := await parse_or_bury(self.ops, self.processing, raw)) is None:
                continue
            record = make_record(env, Status.RUNNING, started_at=now, worker=self.host.id)
            starting.calls.append(self.ops.start(env, raw, self.processing, record))
            starting.jobs.append((env, raw, record))
        self.starting += len(starting.jobs)
        return starting

    async def begin_unstarted(self) -> Starting:
        raws, self.unstarted = self.unstarted, []
        return await self.begin(raws)

    def launch(self, starting: Starting, results: Sequence[Started] | None) -> None:
        """Run the jobs whose start succeeded (None: the round trip failed; the orphan sweep
        puts them back)."""
        self.starting -= len(starting.jobs)
        if results is None:
            return
        for (env, raw, record), code in zip(starting.jobs, results, strict=True):
            self.claimed += 1
            if code is not Started.STARTED:
                log.info("job %s attempt %d not started (%s)", env.id, env.attempt,
                         "cancelled" if code is Started.CANCELLED else "stale or finished")
                continue
            self.host.launch(env, raw, record)

    async def start(self, raws: list[bytes]) -> None:
        """Start claimed envelopes in one round trip."""
        starting = await self.begin(raws)
        results = None
        try:
            if starting.calls:
                results = await self.ops.run_all(starting.calls)
        finally:
            self.launch(starting, results)


@dataclass(slots=True)
class Starting:
    """Claimed jobs whose start calls are on their way."""

    calls: list[Call[Started]]
    jobs: list[tuple[Envelope, bytes, dict[str, Any]]]
