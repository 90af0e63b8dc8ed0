"""Cron schedules: how they are read and checked, and when their ticks fall."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, ValidationError

from src.queue.errors import InvalidSchedule
from src.queue.registry import Registry, TaskDef, task
from src.queue.schedules import Schedule, parse
from src.queue.settings import Settings

PARIS = ZoneInfo("Europe/Paris")


def _paris(*args: int) -> float:
    return datetime(*args, tzinfo=PARIS).timestamp()


def _setting_error(value: str) -> str:
    with pytest.raises(ValidationError) as info:
        Settings(AGENTQ_SCHEDULES=value)
    return str(info.value)


def test_the_setting_reads_a_json_list_with_every_field():
    s = Settings(AGENTQ_SCHEDULES='[{"name": "inbox", "task": "summarise", "cron": "0 * * * *",'
                                  ' "payload": {"box": "a"}, "queue": "low",'
                                  ' "timezone": "Europe/Paris", "catch_up": true},'
                                  ' {"name": "ping", "type": "echo", "cron": "*/5 * * * * *",'
                                  ' "tz": "Asia/Tokyo"}]')
    assert s.schedules == [
        Schedule("inbox", "summarise", "0 * * * *", {"box": "a"}, "low", "Europe/Paris", True),
        Schedule("ping", "echo", "*/5 * * * * *", {}, "default", "Asia/Tokyo", False),
    ]
    assert Settings().schedules == [] and Settings(AGENTQ_SCHEDULES="").schedules == []


@pytest.mark.parametrize("value, expected", [
    ('[{"name": "x"', "AGENTQ_SCHEDULES is not valid JSON"),
    ('{"name": "x"}', "must be a JSON list"),
    ('["x"]', "entry #1: must be a JSON object"),
    ('[{"name": "inbox", "task": "t", "cron": "61 * * * *"}]',
     "entry #1 ('inbox'): invalid cron expression '61 * * * *'"),
    ('[{"name": "inbox", "task": "t", "cron": "every hour"}]',
     "entry #1 ('inbox'): invalid cron expression 'every hour'"),
    ('[{"name": "feb30", "task": "t", "cron": "0 0 30 2 *"}]',
     "entry #1 ('feb30'): invalid cron expression '0 0 30 2 *'"),
    ('[{"name": "a", "task": "t", "cron": "* * * * *"}, {"name": "inbox", "task": "t",'
     ' "cron": "* * * * *", "timezone": "Europe/Pariss"}]',
     "entry #2 ('inbox'): unknown time zone 'Europe/Pariss'"),
    ('[{"name": "inbox", "task": "t", "cron": "* * * * *", "tiemzone": "UTC"}]',
     "entry #1 ('inbox'): unknown key(s) tiemzone"),
    ('[{"name": "inbox", "cron": "* * * * *"}]', "entry #1 ('inbox'): missing task"),
    ('[{"name": "inbox", "task": "t", "type": "u", "cron": "* * * * *"}]',
     "entry #1 ('inbox'): task and type name the same field"),
    ('[{"name": "inbox", "task": "t", "cron": 5}]', "the cron expression must be text"),
    ('[{"name": "inbox", "task": "t", "cron": "* * * * *", "catch_up": "yes"}]',
     "catch_up must be true or false"),
    ('[{"name": "inbox", "task": "t", "cron": "* * * * *"},'
     ' {"name": "inbox", "task": "u", "cron": "0 * * * *"}]', "schedule 'inbox' is defined twice"),
])
def test_a_bad_setting_is_a_start_up_error_naming_the_entry(value, expected):
    assert expected in _setting_error(value)


def test_task_schedules_take_payload_and_time_zone_and_are_checked_when_declared():
    class Box(BaseModel):
        box: str

    reg = Registry()
    reg.register(TaskDef("digest", lambda ctx, d: None, Box, 60, 3, False,
                         Schedule("digest", "digest", "0 9 * * *", {"box": "a"},
                                  timezone="Europe/Paris")))
    extra = parse('[{"name": "other", "task": "not_here", "cron": "@hourly", "payload": [1]}]')
    assert [s.name for s in reg.schedules(extra)] == ["digest", "other"]

    with pytest.raises(InvalidSchedule, match="schedule 'digest' is defined twice"):
        reg.schedules(parse('[{"name": "digest", "task": "x", "cron": "@daily"}]'))
    with pytest.raises(InvalidSchedule, match=r"schedule 'bad': invalid payload .*box"):
        reg.schedules([Schedule("bad", "digest", "@daily", {"boxes": 1})])
    with pytest.raises(InvalidSchedule, match="schedule 'nightly': invalid cron expression"):
        task("nightly", schedule="0 25 * * *")
    with pytest.raises(InvalidSchedule, match="unknown time zone 'Mars/Olympus'"):
        task("nightly", schedule="0 1 * * *", schedule_tz="Mars/Olympus")


def test_the_decorator_defaults_to_an_empty_payload_in_utc(monkeypatch):
    registry = Registry()  # not the process's: its workers would run the schedule
    monkeypatch.setattr(sys.modules["src.queue.registry"], "registry", registry)

    @task("cron_probe_task", schedule="*/15 * * * *")
    async def probe(ctx, data):
        return None

    s = registry.get("cron_probe_task").schedule
    assert (s.name, s.task, s.cron, s.payload, s.timezone, s.queue, s.catch_up) == (
        "cron_probe_task", "cron_probe_task", "*/15 * * * *", {}, "UTC", "default", False)


def test_a_daily_tick_stays_at_nine_local_time_across_both_dst_changes():
    s = Schedule("daily", "t", "0 9 * * *", timezone="Europe/Paris")
    # 2026: summer time starts on Sunday 29 March, ends on Sunday 25 October
    spring = s.ticks(_paris(2026, 3, 27, 12), _paris(2026, 3, 31, 12), 10)
    autumn = s.ticks(_paris(2026, 10, 23, 12), _paris(2026, 10, 27, 12), 10)
    utc_hours = [datetime.fromtimestamp(t, UTC).hour for t in spring + autumn]
    assert utc_hours == [8, 7, 7, 7, 7, 8, 8, 8]  # 09:00 CET is 08:00 UTC, 09:00 CEST 07:00
    assert all(datetime.fromtimestamp(t, PARIS).hour == 9 for t in spring + autumn)
    assert s.next_after(_paris(2026, 3, 28, 9)) == _paris(2026, 3, 29, 9)
    assert spring[1] - spring[0] == 23 * 3600 and autumn[1] - autumn[0] == 25 * 3600
    # the same expression in UTC does not move
    utc = Schedule("daily", "t", "0 9 * * *")
    assert utc.next_after(_paris(2026, 3, 29, 0)) == datetime(2026, 3, 29, 9, tzinfo=UTC).timestamp()


def test_six_fields_put_seconds_last():
    s = Schedule("s", "t", "0 9 * * * 30")
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert s.next_after(start) == start + 9 * 3600 + 30
    every = Schedule("every", "t", "* * * * * *")
    assert every.ticks(start, start + 5, 10) == [start + i for i in range(1, 6)]
    assert every.ticks(start, start + 5, 3) == [start + 3, start + 4, start + 5]
    assert every.last_before(start + 0.5) == start
    assert every.idempotency_key(start) == f"schedule:every:{int(start)}"


def test_a_local_time_that_dst_skips_runs_after_it_and_one_it_repeats_runs_twice():
    s = Schedule("night", "t", "30 2 * * *", timezone="Europe/Paris")
    spring = s.ticks(_paris(2026, 3, 28, 12), _paris(2026, 3, 29, 12), 10)
    assert [datetime.fromtimestamp(t, UTC).strftime("%H:%M") for t in spring] == ["01:00"]  # 03:00 CEST
    autumn = s.ticks(_paris(2026, 10, 24, 12), _paris(2026, 10, 25, 12), 10)
    assert [datetime.fromtimestamp(t, UTC).strftime("%H:%M") for t in autumn] == ["00:30", "01:30"]
