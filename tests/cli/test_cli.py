"""The `agentq` command line, run as the installed console script against a real Valkey."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

AGENTQ = str(Path(sys.executable).with_name("agentq"))


@pytest.fixture
def agentq(
    redis_url: str, namespace: str, tmp_path: Path
) -> Callable[..., subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTQ_")}
    env.update(REDIS_URL=redis_url, AGENTQ_NAMESPACE=namespace)

    def run(*args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [AGENTQ, *args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            env={**env, "REDIS_URL": url or redis_url},
        )

    return run


def record(out: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return json.loads(out.stdout)


def test_submit_then_status(agentq: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    out = agentq("submit", "add", "--payload", '{"x": 2, "y": 3}', "--queue", "cli")
    assert out.returncode == 0, out.stderr
    job = record(out)
    assert (
        job["status"] == "queued" and job["queue"] == "cli" and job["payload"] == {"x": 2, "y": 3}
    )
    status = agentq("status", job["id"])
    assert status.returncode == 0 and record(status)["id"] == job["id"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("submit", "add", "--payload", '{"y": 1}'), "payload.x"),
        (("submit", "add", "--payload", "{not json"), "not JSON"),
        (("submit", "add", "--payload", "[1]"), "JSON object"),
        (("submit", "no_such_task"), "unknown task type 'no_such_task'"),
    ],
)
def test_bad_submissions_exit_2_naming_the_problem(
    agentq: Callable[..., subprocess.CompletedProcess[str]], args: tuple[str, ...], message: str
) -> None:
    out = agentq(*args)
    assert out.returncode == 2
    assert message in out.stderr and out.stdout == ""


def test_status_of_an_unknown_job_exits_4(
    agentq: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    out = agentq("status", "01JD6Z5Q3M8X4K2V7B9N0C1D2E")
    assert out.returncode == 4 and "not found" in out.stderr


def test_submit_wait_shows_progress_and_the_result(
    agentq: Callable[..., subprocess.CompletedProcess[str]], spawn_worker: Callable[..., Any]
) -> None:
    spawn_worker()
    out = agentq("submit", "sleep", "--payload", '{"seconds": 0.5, "steps": 5}', "--wait", "30")
    assert out.returncode == 0, out.stderr
    assert record(out)["status"] == "succeeded"
    bars = [line for line in out.stderr.splitlines() if line.startswith("[")]
    assert bars[-1].startswith("[" + "#" * 30 + "] 100% succeeded")
    assert len(bars) >= 3  # it moved through intermediate steps


def test_submit_wait_of_a_failing_job_exits_1(
    agentq: Callable[..., subprocess.CompletedProcess[str]], spawn_worker: Callable[..., Any]
) -> None:
    spawn_worker()
    out = agentq("submit", "fail", "--payload", '{"times": 5}', "--max-attempts", "1", "--wait")
    assert out.returncode == 1
    assert record(out)["status"] == "failed"


def test_stats_table_and_json(agentq: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    agentq("submit", "echo", "--queue", "stats-q")
    agentq("submit", "echo", "--queue", "stats-q")
    table = agentq("stats")
    assert table.returncode == 0
    row = next(line.split() for line in table.stdout.splitlines() if line.startswith("stats-q"))
    assert row[1:3] == ["2", "0"]  # queued, running
    data = json.loads(agentq("stats", "--json").stdout)
    assert {q["name"]: q["queued"] for q in data["queues"]}["stats-q"] == 2


def test_dead_list_and_requeue(
    agentq: Callable[..., subprocess.CompletedProcess[str]], spawn_worker: Callable[..., Any]
) -> None:
    worker = spawn_worker()
    out = agentq(
        "submit", "fail", "--payload", '{"times": 1}', "--max-attempts", "1", "--wait", "20"
    )
    job = record(out)
    assert job["status"] == "failed"
    dead = json.loads(agentq("dead", "list").stdout)
    assert job["id"] in [d.get("id") for d in dead]
    worker.stop()
    requeued = agentq("dead", "requeue", job["id"])
    assert requeued.returncode == 0 and "requeued 1 job" in requeued.stdout
    assert record(agentq("status", job["id"]))["status"] == "queued"
    assert job["id"] not in [d.get("id") for d in json.loads(agentq("dead", "list").stdout)]


def test_redis_unreachable_exits_3(agentq: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    out = agentq("stats", url="redis://127.0.0.1:1/0")
    assert out.returncode == 3 and "unavailable" in out.stderr


def test_help_lists_the_commands(agentq: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    out = agentq("--help")
    assert out.returncode == 0
    for command in ("submit", "status", "stats", "dead"):
        assert command in out.stdout


def test_schedules_table_json_and_a_bad_setting(
    redis_url: str, namespace: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTQ_")}
    env.update(REDIS_URL=redis_url, AGENTQ_NAMESPACE=namespace, AGENTQ_SCHEDULES=json.dumps(
        [{"name": "inbox", "task": "echo", "cron": "0 9 * * *", "timezone": "Europe/Paris"}]))

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([AGENTQ, "schedules", *args], capture_output=True, text=True,
                              timeout=60, cwd=tmp_path, env={**env, **extra})

    table = run()
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()
    assert header.split() == ["name", "task", "cron", "timezone", "queue", "next_run", "last_run"]
    assert row.startswith("inbox") and "0 9 * * *" in row and "Europe/Paris" in row
    listed = json.loads(run("--json").stdout)["schedules"]
    assert [(s["name"], s["last_run"]) for s in listed] == [("inbox", None)]
    bad = run(AGENTQ_SCHEDULES='[{"name": "inbox", "task": "echo", "cron": "0 9 * *"}]')
    assert bad.returncode == 2
    assert "AGENTQ_SCHEDULES entry #1 ('inbox'): invalid cron expression '0 9 * *'" in bad.stderr
