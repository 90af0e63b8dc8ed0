"""Typed operations: one function per Lua script, the only code that spells KEYS and ARGV.

Each method builds a `Call`: await it to run the script alone, or hand several to
`Ops.run_all` to run them in one round trip. Every call decodes the script's answer
into an `IntEnum`, a bool or a small dataclass (`answers.py`, re-exported here), so no
caller compares bare integers.
Records are built by the caller (in Python, so payloads stay byte-exact); the methods
here serialise them, write the matching status event, and schedule the completion
callback of every transition that ends a job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson

from . import histograms, scripts
from .answers import (
    STEP_ORDER,
    WAIT_TIMEOUT,
    Buried,
    CallbackDue,
    Cancelled,
    EnqueueResult,
    Fenced,
    Recovered,
    Resubmitted,
    Signalled,
    Started,
    Suspended,
)
from .connection import is_cluster
from .keys import Keys
from .models import Envelope, dumps, status_event
from .scripts import Call
from .settings import Settings

T = TypeVar("T")

#: Events kept per job stream (approximate trimming).
EVENTS_MAX = 1000
#: How long a retry of a job refuses further retries of it (concurrent clicks, calls).
RETRY_GUARD_MS = 2000


def waiting_list(keys: Keys, record: dict[str, Any]) -> str:
    """The list a queued job's envelope waits on: its key's list, or its queue's."""
    key = record.get("concurrency_key")
    return keys.key_queue(record["queue"], key) if key else keys.queue(record["queue"])


def callback_member(job_id: str, ended_ms: int, attempt: int = 1) -> str:
    return dumps([job_id, ended_ms, attempt])


def _callback(record: dict[str, Any], now_ms: int) -> str:
    return callback_member(record["id"], now_ms) if record.get("callback_url") else ""


def _now_ms() -> int:
    return int(time.time() * 1000)


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


class Ops:
    """The queue's state changes over one Redis client, one namespace and its settings."""

    def __init__(self, redis: Any, keys: Keys, settings: Settings) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings

    async def run_all(
        self, calls: Sequence[Call[Any]], then: Sequence[Sequence[Any]] = (),
        sent: Callable[[], None] | None = None,
    ) -> list[Any]:
        """Several calls in one round trip; `then`: plain commands after them (answers
        follow); `sent()` runs once they are on the socket (see `scripts.run_many`)."""
        if len(calls) == 1 and not then and sent is None:  # EVALSHA costs less than a
            return [await calls[0]]                         # pipeline
        raw = await scripts.run_many(
            self.redis, [(c.script, c.keys, c.args) for c in calls], then, sent=sent)
        return [c.decode(r) for c, r in zip(calls, raw, strict=False)] + raw[len(calls):]

    def _call(self, script: str, keys: Sequence[str], args: Sequence[Any],
              decode: Callable[[Any], T]) -> Call[T]:
        return Call(self.redis, script, keys, args, decode)

    # -- producers --------------------------------------------------------------

    def enqueue(self, env: Envelope, record: dict[str, Any], *, due_ms: int = 0,
                idempotency_key: str | None = None, key_limit: int = 0) -> Call[EnqueueResult]:
        """Write the record, put the envelope on its queue (or scheduled when `due_ms`);
        `key_limit`: the running jobs its concurrency key may have (0: no limit)."""
        k, s = self.keys, self.settings
        return self._call(
            "enqueue",
            [k.job(env.id), k.scheduled if due_ms else k.queue(env.queue), k.jobs,
             k.idem(idempotency_key or "", env.tenant), k.stats, k.key_limits],
            [env.id, dumps(record), env.dump(), s.job_ttl_s, int(env.created() * 1000), due_ms,
             s.jobs_index_max, f"{env.queue}:enqueued", 1 if idempotency_key else 0,
             env.concurrency_key or "", key_limit],
            lambda r: EnqueueResult(bool(r[0]), _text(r[1])),
        )

    def cancel(self, raw: bytes, record: dict[str, Any],
               cancelled: dict[str, Any]) -> Call[Cancelled]:
        """Cancel the job whose record the caller read as `raw` (compare-and-set)."""
        k, s, job_id, now = self.keys, self.settings, record["id"], _now_ms()
        return self._call(
            "cancel",
            [k.job(job_id), k.cancel(job_id), k.events(job_id), k.stats,
             waiting_list(k, record), k.scheduled, k.callbacks, k.archive, k.waiting,
             k.waiting_envelopes, k.metrics],
            [raw, dumps(cancelled), s.job_ttl_s, s.result_ttl_s, status_event(cancelled),
             EVENTS_MAX, f"{record['queue']}:cancelled", job_id, _callback(cancelled, now), now,
             s.archive_cap, *histograms.ended_observation(
                 record["type"], record.get("tenant") or "default", "cancelled")],
            Cancelled,
        )

    def resubmit(self, raw: bytes, queued: dict[str, Any], env: Envelope) -> Call[Resubmitted]:
        """Run a failed or cancelled job again from attempt 1 (compare-and-set on `raw`)."""
        k, s = self.keys, self.settings
        return self._call(
            "resubmit",
            [k.job(env.id), k.cancel(env.id), k.queue(env.queue), k.events(env.id), k.stats,
             k.lock(f"retry:{env.id}")],
            [raw, dumps(queued), env.dump(), s.job_ttl_s, status_event(queued), EVENTS_MAX,
             f"{env.queue}:enqueued", RETRY_GUARD_MS],
            Resubmitted,
        )

    def requeue(self, raw: bytes, fresh: Envelope, queued: dict[str, Any]) -> Call[bool]:
        """Move one envelope from the dead list back to its queue; False if already gone."""
        k, s = self.keys, self.settings
        return self._call(
            "requeue",
            [k.dead, k.queue(fresh.queue), k.job(fresh.id), k.events(fresh.id),
             k.cancel(fresh.id), k.stats],
            [raw, fresh.dump(), dumps(queued), s.job_ttl_s, status_event(queued), EVENTS_MAX,
             f"{fresh.queue}:enqueued"],
            bool,
        )

    # -- the worker's side of a job ---------------------------------------------

    def claim(self, processing: str, queues: Sequence[str], n: int) -> Call[list[bytes]]:
        """Move up to `n` envelopes from the queues (in order; each queue's keys in turn)
        to `processing`."""
        return self._call("claim", [processing, self.keys.key_limits, *queues], [n, _now_ms()],
                          list)

    async def wait_and_claim(self, blocking: Any, wakes: Sequence[str], timeout_s: float,
                             processing: str, queues: Sequence[str],
                             n: int) -> tuple[Any, list[bytes]]:
        """Block on the queues' wake-up lists (`blocking`, a connection of its own) up to
        `timeout_s`, then claim up to `n`, in one round trip: (the token or None, envelopes)."""
        call = self.claim(processing, queues, n)
        if is_cluster(blocking):  # a cluster pipeline does not keep BLPOP ahead of a script
            token = await blocking.blpop(wakes, timeout_s)
            return token, await call
        token, raws = await scripts.run_many(
            blocking, [(call.script, call.keys, call.args)],
            first=("BLPOP", *wakes, timeout_s))
        return token, call.decode(raws)

    def start(self, env: Envelope, raw: bytes, processing: str,
              running: dict[str, Any]) -> Call[Started]:
        k = self.keys
        return self._call(
            "start", [k.job(env.id), k.events(env.id), processing],
            [raw, env.attempt, dumps(running), self.settings.job_ttl_s, status_event(running),
             EVENTS_MAX],
            Started,
        )

    def progress(self, env: Envelope, worker: str, record: dict[str, Any] | None,
                 *events: str) -> Call[Fenced]:
        """Append events (and rewrite the record, when given), fenced by attempt."""
        k = self.keys
        return self._call(
            "progress", [k.job(env.id), k.events(env.id)],
            [env.attempt, worker, dumps(record) if record is not None else "",
             self.settings.job_ttl_s, EVENTS_MAX, *events],
            Fenced,
        )

    def progress_many(
        self, worker: str,
        jobs: Sequence[tuple[Envelope, dict[str, Any] | None, Sequence[str]]],
    ) -> Call[list[Fenced]]:
        """`progress` for several jobs of one worker in one script call: (envelope, record
        or None, events) each; one answer per job, in order."""
        k = self.keys
        keys: list[str] = []
        args: list[Any] = [worker, self.settings.job_ttl_s, EVENTS_MAX]
        for env, record, events in jobs:
            keys += (k.job(env.id), k.events(env.id))
            args += (env.attempt, dumps(record) if record is not None else "", len(events))
            args += events
        return self._call("progress_many", keys, args, lambda r: [Fenced(c) for c in r])

    def step(self, env: Envelope, worker: str, name: str, result_json: bytes) -> Call[Fenced]:
        """Store a durable step's result for this attempt (fenced), keeping the step order."""
        k = self.keys
        return self._call("step", [k.job(env.id), k.steps(env.id)],
                          [env.attempt, worker, name, result_json, self.settings.job_ttl_s],
                          Fenced)

    def suspend(self, env: Envelope, raw: bytes, worker: str, processing: str,
                waiting: dict[str, Any], queued: dict[str, Any], name: str,
                until_ms: int, resume: Envelope | None = None,
                observe: Sequence[str | int] = ()) -> Call[Suspended]:
        """Park the attempt until signal `name` (or `until_ms`), fenced by attempt; the job
        resumes with `resume` (default: the claimed envelope)."""
        k, s = self.keys, self.settings
        ttl = s.job_ttl_s + max(0, until_ms - _now_ms()) // 1000
        return self._call(
            "suspend",
            [k.job(env.id), k.events(env.id), processing, k.signals(env.id), k.waiting,
             k.waiting_envelopes, k.queue(env.queue), k.steps(env.id), k.cancel(env.id),
             k.metrics],
            [env.attempt, worker, raw, dumps(waiting), dumps(queued), ttl,
             status_event(waiting), status_event(queued), EVENTS_MAX, env.id, name, until_ms,
             resume.dump() if resume is not None else raw, *observe],
            Suspended,
        )

    def signal(self, record: dict[str, Any], name: str, body: bytes, event_json: str, *,
               raw: bytes | None = None, queued: dict[str, Any] | None = None) -> Call[Signalled]:
        """Store signal `name` for the job of `record`; with `raw` (the record as read, waiting
        for this signal) and `queued`, put the job back on its queue in the same step."""
        k, job_id = self.keys, record["id"]
        return self._call(
            "signal",
            [k.job(job_id), k.events(job_id), k.signals(job_id), k.waiting, k.waiting_envelopes,
             k.queue(record["queue"])],
            [job_id, name, body, raw or "", dumps(queued) if queued else "", event_json,
             status_event(queued) if queued else "", EVENTS_MAX, self.settings.job_ttl_s],
            Signalled,
        )

    def finish(self, env: Envelope, raw: bytes, worker: str, processing: str,
               final: dict[str, Any], *, dead: bool = False,
               observe: Sequence[str | int] = ()) -> Call[Fenced]:
        """End the attempt with `final` (succeeded, failed or cancelled), fenced by attempt;
        `observe`: metrics field/increment pairs (`histograms.observations`)."""
        k, s, now = self.keys, self.settings, _now_ms()
        return self._call(
            "finish",
            [k.job(env.id), k.events(env.id), processing, k.stats, k.dead, k.cancel(env.id),
             k.steps(env.id), k.callbacks, k.archive, k.metrics],
            [env.attempt, worker, raw, dumps(final), s.result_ttl_s, status_event(final),
             EVENTS_MAX, f"{env.queue}:{final['status']}", raw if dead else "", s.dead_max,
             _callback(final, now), now, env.id, s.archive_cap, *observe],
            Fenced,
        )

    def retry(self, env: Envelope, raw: bytes, worker: str, processing: str, nxt: Envelope,
              due_ms: int, scheduled: dict[str, Any],
              observe: Sequence[str | int] = ()) -> Call[Fenced]:
        """Schedule the next attempt `nxt` at `due_ms`, fenced by the failed attempt;
        `observe`: metrics field/increment pairs (`histograms.observations`)."""
        k, s = self.keys, self.settings
        return self._call(
            "retry",
            [k.job(env.id), k.events(env.id), processing, k.stats, k.scheduled, k.metrics],
            [env.attempt, worker, raw, nxt.dump(), due_ms, dumps(scheduled), s.job_ttl_s,
             status_event(scheduled), EVENTS_MAX, f"{env.queue}:retried", *observe],
            Fenced,
        )

    def recover(self, processing: str, raw: bytes, env: Envelope, *, dead: bool,
                new_raw: bytes | str, record: dict[str, Any],
                cancelled: dict[str, Any]) -> Call[Recovered]:
        """Take `raw` out of `processing`: back on its queue as `new_raw` with `record`, or
        (`dead`) onto the dead list with the failed `record`; `cancelled` if cancel was asked."""
        k, s, now = self.keys, self.settings, _now_ms()
        return self._call(
            "recover",
            [processing, k.queue(env.queue), k.dead, k.job(env.id), k.events(env.id),
             k.cancel(env.id), k.stats, k.callbacks, k.archive],
            [raw, "dead" if dead else "queue", new_raw, dumps(record), dumps(cancelled),
             s.job_ttl_s, s.result_ttl_s, status_event(record), status_event(cancelled),
             EVENTS_MAX, s.dead_max, env.queue, _callback(cancelled, now), now, env.id,
             s.archive_cap],
            Recovered,
        )

    def promote(self, raw: bytes, env: Envelope, queued: dict[str, Any]) -> Call[bool]:
        """Move one due envelope from the scheduled set to its queue; False if taken."""
        k, s = self.keys, self.settings
        return self._call(
            "promote", [k.scheduled, k.queue(env.queue), k.job(env.id), k.events(env.id)],
            [raw, dumps(queued), s.job_ttl_s, status_event(queued), EVENTS_MAX],
            bool,
        )

    def bury(self, source: str, raw: bytes, *, job_id: str | None = None,
             current: bytes | None = None, failed: dict[str, Any] | None = None) -> Call[Buried]:
        """Move an envelope that cannot run to the dead list; fail the record it names
        (`failed`, written only if the record is still `current`)."""
        k, s, now = self.keys, self.settings, _now_ms()
        write = failed if current is not None else None  # the record to write, if any
        some = job_id or "_"
        return self._call(
            "bury",
            [source, k.dead, k.job(some), k.events(some), k.stats, k.callbacks, k.archive],
            [raw, "zset" if source == k.scheduled else "list", s.dead_max,
             current if write is not None else "", dumps(write) if write is not None else "",
             s.result_ttl_s, status_event(write) if write is not None else "", EVENTS_MAX,
             f"{write['queue']}:failed" if write is not None else "",
             _callback(write, now) if write is not None else "",
             now, job_id or "", s.archive_cap],
            Buried,
        )

    # -- history ------------------------------------------------------------------

    def archive_done(self, key: str, entries: Sequence[bytes]) -> Call[int]:
        """Drop entries the archiver has written from the archive list `key`."""
        return self._call("archive_done", [key], list(entries), int)

    # -- completion callbacks ---------------------------------------------------

    def callbacks_due(self, lease_ms: int, n: int) -> Call[list[CallbackDue]]:
        """Lease up to `n` due callbacks for `lease_ms`."""
        def decode(members: list[bytes]) -> list[CallbackDue]:
            out = []
            for m in members:
                job_id, ended, attempt = orjson.loads(m)
                out.append(CallbackDue(m, job_id, ended, attempt))
            return out

        return self._call("callbacks_due", [self.keys.callbacks], [_now_ms(), lease_ms, n], decode)

    def callback_done(self, due: CallbackDue, retry_at_ms: int | None = None) -> Call[bool]:
        """Drop a leased callback; with `retry_at_ms`, try it again then (next attempt)."""
        nxt = "" if retry_at_ms is None else callback_member(due.job_id, due.ended_ms,
                                                              due.attempt + 1)
        return self._call("callback_done", [self.keys.callbacks],
                          [due.member, nxt, retry_at_ms or 0], bool)


def ratelimit(redis: Any, key: str, *, rpm: int, tpm: int, tokens: int, period_ms: int,
              slots: int, now_ms: int | None = None, want_slot: bool = False) -> Call[int]:
    """Ask the shared limit `key` for one request of `tokens`: 0 if granted (and counted),
    else the milliseconds to wait (`lua/ratelimit.lua`). Any Redis client of the namespace.
    With `want_slot`, a grant answers minus the slot it was counted in (0 or less)."""
    return Call(redis, "ratelimit", [key],
                [rpm, tpm, max(0, tokens), period_ms, slots, "" if now_ms is None else now_ms,
                 "1" if want_slot else ""], int)


def ratelimit_adjust(redis: Any, key: str, *, delta: int, slot: int, period_ms: int,
                     slots: int, now_ms: int | None = None) -> Call[int]:
    """Correct the tokens a grant of `ratelimit` counted in `slot` by `delta` (negative:
    give back, never below zero; positive: add to the current slot); the tokens changed
    (`lua/ratelimit_adjust.lua`)."""
    return Call(redis, "ratelimit_adjust", [key],
                [int(delta), slot, period_ms, slots, "" if now_ms is None else now_ms], int)


__all__ = [
    "EVENTS_MAX", "RETRY_GUARD_MS", "STEP_ORDER", "WAIT_TIMEOUT", "Buried", "Call",
    "CallbackDue", "Cancelled", "EnqueueResult", "Fenced", "Ops", "Recovered", "Resubmitted",
    "Signalled", "Started", "Suspended", "callback_member", "ratelimit", "ratelimit_adjust",
    "waiting_list",
]
