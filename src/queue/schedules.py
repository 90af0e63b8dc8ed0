"""Cron schedules: which task to enqueue at which ticks, in which time zone.

A schedule comes from `@task(..., schedule="*/15 * * * *")` or from an entry of
`AGENTQ_SCHEDULES` (a JSON list, for tasks whose code is not yours). Every worker runs
the schedules it knows (src/worker/scheduler.py); the idempotency key of a tick,
`schedule:{name}:{tick epoch}`, lets exactly one of them enqueue it.

Cron expressions are croniter's: 5 fields (minute hour day month weekday) in the usual
meaning, an optional 6th field of **seconds** (placed last, croniter's default, so the
first five fields keep their usual meaning: `0 9 * * * 30` is 09:00:30) and an optional
7th of years; `@hourly`, `@daily` and the like work too. Ticks are computed in the
schedule's time zone (`zoneinfo` names, default UTC): a daily `0 9 * * *` in
`Europe/Paris` stays at 09:00 local time across daylight-saving changes. A local time
that a spring change skips runs at the first time after it; one that an autumn change
repeats runs at both of its instants (croniter's reading).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from croniter import CroniterError, croniter

from .errors import InvalidSchedule
from .keys import Keys
from .models import iso

#: The keys an AGENTQ_SCHEDULES entry may have; `type` and `tz` are the contract's
#: spellings of `task` and `timezone`.
_ENTRY_KEYS = frozenset({"name", "task", "type", "cron", "payload", "queue", "timezone", "tz",
                         "catch_up"})
_ALIASES = {"type": "task", "tz": "timezone"}


@dataclass(frozen=True, slots=True)
class Schedule:
    """Enqueue `task` with `payload` on `queue` at every tick of `cron` in `timezone`.

    `catch_up`: when ticks were missed while no worker ran (or none reached Redis), the
    most recent of them is enqueued once at the next start; the others are skipped.
    Without it every missed tick is skipped. A schedule that never ran missed nothing.
    """

    name: str
    task: str
    cron: str
    payload: Any = field(default_factory=dict)
    queue: str = "default"
    timezone: str = "UTC"
    catch_up: bool = False

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise InvalidSchedule("a schedule needs a non-empty name")
        if not self.task or not isinstance(self.task, str):
            raise InvalidSchedule(f"schedule {self.name!r}: needs a task")
        if not self.cron or not isinstance(self.cron, str):
            raise InvalidSchedule(f"schedule {self.name!r}: the cron expression must be text")
        if not self.queue or not isinstance(self.queue, str):
            raise InvalidSchedule(f"schedule {self.name!r}: invalid queue {self.queue!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise InvalidSchedule(
                f"schedule {self.name!r}: unknown time zone {self.timezone!r}") from exc
        try:
            self.next_after(time.time())  # also refuses an expression that never fires
        except (CroniterError, ValueError, TypeError, KeyError) as exc:
            raise InvalidSchedule(
                f"schedule {self.name!r}: invalid cron expression {self.cron!r}: {exc}"
            ) from exc

    def _iter(self, ts: float) -> croniter:
        return croniter(self.cron, datetime.fromtimestamp(ts, ZoneInfo(self.timezone)))

    def next_after(self, ts: float) -> float:
        """The first tick strictly after the epoch time `ts`."""
        return float(self._iter(ts).get_next(float))

    def ticks(self, after: float, until: float, limit: int) -> list[float]:
        """Ticks `t` with `after < t <= until`, oldest first; the newest `limit` if more."""
        out: list[float] = []
        it = self._iter(after)
        while (tick := float(it.get_next(float))) <= until:
            out.append(tick)
            if len(out) > limit:
                out.pop(0)
        return out

    def last_before(self, ts: float) -> float:
        """The last tick strictly before `ts`."""
        return float(self._iter(ts).get_prev(float))

    def idempotency_key(self, tick: float) -> str:
        """The key that makes one job of a tick, whichever worker enqueues it."""
        return f"schedule:{self.name}:{int(tick)}"


def from_entry(entry: Any, index: int) -> Schedule:
    """The schedule of one AGENTQ_SCHEDULES entry; InvalidSchedule naming the entry."""
    if not isinstance(entry, Mapping):
        raise InvalidSchedule(f"AGENTQ_SCHEDULES entry #{index + 1}: must be a JSON object")
    label = f"entry #{index + 1}" + (f" ({entry['name']!r})" if entry.get("name") else "")
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    missing = [k for k in ("name", "cron") if k not in entry]
    if "task" not in entry and "type" not in entry:
        missing.append("task")
    both = [f"{a} and {b}" for a, b in (("task", "type"), ("timezone", "tz"))
            if a in entry and b in entry]
    if both:
        raise InvalidSchedule(f"AGENTQ_SCHEDULES {label}: {both[0]} name the same field: "
                              "give one")
    if unknown or missing:
        what = "; ".join(filter(None, [
            f"unknown key(s) {', '.join(unknown)}" if unknown else "",
            f"missing {', '.join(missing)}" if missing else "",
        ]))
        raise InvalidSchedule(f"AGENTQ_SCHEDULES {label}: {what}")
    values: dict[str, Any] = {_ALIASES.get(str(k), str(k)): v for k, v in entry.items()}
    if not isinstance(values.get("catch_up", False), bool):
        raise InvalidSchedule(f"AGENTQ_SCHEDULES {label}: catch_up must be true or false")
    try:
        return Schedule(**values)
    except InvalidSchedule as exc:
        reason = str(exc).removeprefix(f"schedule {values['name']!r}: ")
        raise InvalidSchedule(f"AGENTQ_SCHEDULES {label}: {reason}") from None


def parse(value: Any) -> list[Schedule]:
    """AGENTQ_SCHEDULES (JSON text, or already a list) as schedules, names unique."""
    if isinstance(value, (str, bytes)):
        if not value.strip():
            return []
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise InvalidSchedule(f"AGENTQ_SCHEDULES is not valid JSON: {exc}") from None
    if not isinstance(value, list):
        raise InvalidSchedule("AGENTQ_SCHEDULES must be a JSON list of objects")
    schedules = [s if isinstance(s, Schedule) else from_entry(s, i) for i, s in enumerate(value)]
    check_unique(schedules)
    return schedules


def check_unique(schedules: Iterable[Schedule]) -> None:
    seen: set[str] = set()
    for s in schedules:
        if s.name in seen:
            raise InvalidSchedule(f"schedule {s.name!r} is defined twice")
        seen.add(s.name)


async def last_runs(redis: Any, keys: Keys, names: Sequence[str]) -> dict[str, float | None]:
    """The last tick (epoch seconds) each named schedule enqueued, None if it never ran."""
    if not names:
        return {}
    scores = await redis.zmscore(keys.schedules, list(names))
    return {n: None if s is None else float(s) for n, s in zip(names, scores, strict=True)}


async def mark_run(redis: Any, keys: Keys, name: str, tick: float) -> None:
    """Remember `tick` as the schedule's last run; never moves it back (ZADD GT)."""
    await redis.zadd(keys.schedules, {name: tick}, gt=True)


def describe(schedules: Iterable[Schedule], last: Mapping[str, float | None],
             now: float) -> list[dict[str, Any]]:
    """What `GET /schedules` and `agentq schedules` show of each schedule."""
    return [
        {"name": s.name, "task": s.task, "type": s.task, "cron": s.cron,
         "timezone": s.timezone, "queue": s.queue, "payload": s.payload,
         "next_run": iso(s.next_after(now)), "last_run": iso(last.get(s.name)),
         "catch_up": s.catch_up}
        for s in schedules
    ]
