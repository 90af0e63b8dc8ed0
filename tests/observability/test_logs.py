"""Logs (CONTRACT §9): `AGENTQ_LOG_FORMAT=json` makes every line one JSON object."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from src.queue import logs
from tests.api.support import (
    ROOT,
    base_env,
    free_port,
    start_worker,
    stop_process,
    wait_for,
    wait_status,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def _json_lines(text: str) -> list[dict[str, Any]]:
    """Every non-empty line as a JSON object; fails on the first that is not one."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
        assert isinstance(obj, dict), line
        for field in ("time", "level", "logger", "message"):
            assert field in obj, line
        out.append(obj)
    return out


def test_the_formatter_writes_the_job_fields_extras_and_the_traceback() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("agentq.test.logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with logs.job_scope(job_id="j1", attempt=2, worker="w1", trace_id=None):
            logger.warning("inside %s", "the attempt", extra={"outcome": "failed"})
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("outside")
    finally:
        logger.removeHandler(handler)
    inside, outside = _json_lines(stream.getvalue())
    assert inside["message"] == "inside the attempt" and inside["level"] == "WARNING"
    assert inside["logger"] == "agentq.test.logs" and inside["time"].endswith("Z")
    assert (inside["job_id"], inside["attempt"], inside["worker"]) == ("j1", 2, "w1")
    assert inside["outcome"] == "failed" and "trace_id" not in inside
    assert "job_id" not in outside
    assert "ValueError: boom" in outside["exception"]


def _start_api(workdir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str, Path]:
    """uvicorn with its access log on and at INFO, as an operator would run it."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = workdir / "api.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "src.api.app:app", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "info"],
            stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(url + "/health", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None
    wait_for(up, 20)
    assert proc.poll() is None, log_path.read_text()
    return proc, url, log_path


def test_the_api_and_a_worker_process_log_json_lines_with_the_job_fields(
        redis_url: str, tmp_path: Path) -> None:
    env = base_env(redis_url, f"t{uuid.uuid4().hex[:10]}", AGENTQ_LOG_FORMAT="json",
                   AGENTQ_TASK_MODULES="tests.observability.tasks", PYTHONPATH=str(ROOT))
    api, url, api_log = _start_api(tmp_path / "api", env)
    worker = start_worker(tmp_path / "worker", env, "--concurrency", "2")
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            r = http.post("/jobs", json={"type": "obs_flaky", "payload": {}},
                          headers={"traceparent": TRACEPARENT})
            assert r.status_code == 202, r.text
            job_id = r.json()["id"]
            assert wait_status(http, job_id, {"succeeded", "failed"}, 30)["status"] == "succeeded"
    finally:
        stop_process(worker, grace_s=15)
        stop_process(api)
    worker_lines = _json_lines(next((tmp_path / "worker").glob("worker-*.log")).read_text())
    api_lines = _json_lines(api_log.read_text())

    # one INFO line per finished attempt, with the job's fields and the outcome
    finished = [line for line in worker_lines if line.get("outcome")]
    assert [(line["job_id"], line["attempt"], line["outcome"]) for line in finished] == [
        (job_id, 1, "retrying"), (job_id, 2, "succeeded")]
    for line in finished:
        assert line["level"] == "INFO" and line["logger"] == "agentq.worker"
        assert line["worker"] and line["trace_id"] == TRACE_ID
    assert finished[0]["error_type"] == "exception"
    # the task's own ctx.log lines, and the step lines, carry them too
    fetched = [line for line in worker_lines if line["message"].startswith("fetched")]
    assert [line["attempt"] for line in fetched] == [1, 2]
    assert all(line["job_id"] == job_id and line["trace_id"] == TRACE_ID
               and line["worker"] == finished[0]["worker"] for line in fetched)
    # every line of the worker process names the worker
    assert {line.get("worker") for line in worker_lines} == {finished[0]["worker"]}
    assert any("stopped after" in line["message"] for line in worker_lines)

    # uvicorn's own lines and its access log
    assert any(line["logger"] == "uvicorn.error" and "startup complete" in line["message"]
               for line in api_lines)
    posts = [line for line in api_lines if line["logger"] == "uvicorn.access"
             and line.get("method") == "POST"]
    assert [(line["path"], line["status"]) for line in posts] == [("/jobs", 202)]
