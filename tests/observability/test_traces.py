"""Traces (CONTRACT §9): one trace follows a job from `POST /jobs` through every attempt."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from src.queue import tracing
from src.queue.models import Envelope, Status, envelope_of, make_record
from src.queue.settings import Settings
from src.worker import Worker
from tests.api.support import base_env, start_api, start_worker, stop_process, wait_status

from .conftest import Spans

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _by_attempt(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return sorted(spans, key=lambda s: s.attributes["job.attempt"])


async def test_a_job_that_fails_once_is_one_trace_with_both_attempts_and_their_steps(
        spans: Spans, api: httpx.AsyncClient, worker: Worker) -> None:
    r = await api.post("/jobs?wait=30", json={"type": "obs_flaky", "payload": {}})
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["status"] == "succeeded" and job["attempt"] == 2, job

    [enqueue] = spans.named("enqueue obs_flaky")
    assert enqueue.attributes["job.id"] == job["id"]
    trace_id = enqueue.context.trace_id
    in_trace = [s for s in spans.all() if s.context.trace_id == trace_id]
    [root] = [s for s in in_trace if s.parent is None]
    assert root.name == "POST /jobs"  # the API's request span starts the trace

    runs = _by_attempt([s for s in in_trace if s.name == "run obs_flaky"])
    assert [s.attributes["job.attempt"] for s in runs] == [1, 2]
    for run in runs:
        assert run.parent.span_id == enqueue.context.span_id
        assert run.attributes["job.id"] == job["id"]
        assert run.attributes["job.type"] == "obs_flaky"
        assert run.attributes["job.queue"] == "default"
    assert runs[0].attributes["job.outcome"] == "retrying"
    assert runs[0].attributes["error.type"] == "exception"
    assert runs[0].status.status_code is StatusCode.ERROR
    assert runs[1].attributes["job.outcome"] == "succeeded"
    assert runs[1].status.status_code is not StatusCode.ERROR

    waits = _by_attempt([s for s in in_trace if s.name == "wait default"])
    assert len(waits) == 2 and all(w.parent.span_id == enqueue.context.span_id for w in waits)
    # the second wait holds the retry's back-off, and ends where its attempt starts
    assert waits[1].end_time == runs[1].start_time
    assert waits[1].start_time >= runs[0].start_time

    def children(parent: ReadableSpan, prefix: str) -> list[ReadableSpan]:
        return [s for s in in_trace if s.name.startswith(prefix)
                and s.parent is not None and s.parent.span_id == parent.context.span_id]

    [first_fetch] = children(runs[0], "step fetch")
    [second_fetch] = children(runs[1], "step fetch")
    assert first_fetch.attributes["job.step.reused"] is False
    assert second_fetch.attributes["job.step.reused"] is True  # the durable step's result
    assert [s.name for s in children(runs[1], "step summarise")] == ["step summarise"]
    assert children(runs[0], "step summarise") == []

    [chat] = children(runs[1], "chat ")
    attrs = chat.attributes
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "offline"
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0
    assert attrs["agentq.llm.tokens_estimated"] is True

    # nothing of this job went to another trace
    assert len([s for s in in_trace if s.attributes.get("job.id") == job["id"]]) == 8
    assert not [s for s in spans.all() if s.attributes.get("job.id") == job["id"]
                and s.context.trace_id != trace_id]


async def test_a_sync_task_s_step_in_its_thread_nests_under_the_attempt(
        spans: Spans, api: httpx.AsyncClient, worker: Worker) -> None:
    r = await api.post("/jobs?wait=30", json={"type": "obs_sync", "payload": {}})
    assert r.json()["status"] == "succeeded", r.text
    [run] = spans.named("run obs_sync")
    [step] = spans.named("step thread_step")
    assert step.parent.span_id == run.context.span_id
    assert step.context.trace_id == run.context.trace_id


async def test_a_retried_job_stays_in_its_trace_and_the_caller_s_trace_is_continued(
        spans: Spans, api: httpx.AsyncClient, worker: Worker) -> None:
    r = await api.post("/jobs?wait=30", json={"type": "obs_fails", "payload": {}},
                       headers={"traceparent": TRACEPARENT})
    job = r.json()
    assert job["status"] == "failed", job
    r = await api.post(f"/jobs/{job['id']}/retry")
    assert r.status_code == 202, r.text
    for _ in range(300):
        if len(spans.named("run obs_fails")) == 2:
            break
        await asyncio.sleep(0.05)
    [enqueue] = spans.named("enqueue obs_fails")
    assert format(enqueue.context.trace_id, "032x") == TRACEPARENT.split("-")[1]
    [root] = [s for s in spans.all() if s.context.trace_id == enqueue.context.trace_id
              and s.name == "POST /jobs"]
    assert format(root.parent.span_id, "016x") == TRACEPARENT.split("-")[2]
    runs = spans.named("run obs_fails")
    assert len(runs) == 2
    assert {s.parent.span_id for s in runs} == {enqueue.context.span_id}
    assert all(s.attributes["job.attempt"] == 1 for s in runs)  # retry starts from attempt 1


def test_every_envelope_a_retry_or_a_recovery_builds_keeps_the_traceparent() -> None:
    env = Envelope(id="j1", type="t", traceparent=TRACEPARENT)
    assert env.next_attempt().traceparent == TRACEPARENT        # retry, lost-worker recovery
    assert env.next_attempt(1).traceparent == TRACEPARENT       # requeue from the dead list
    record = make_record(env, Status.FAILED)
    assert record["traceparent"] == TRACEPARENT
    assert envelope_of(record).traceparent == TRACEPARENT       # POST /jobs/{id}/retry
    assert orjson.loads(env.dump())["traceparent"] == TRACEPARENT
    assert "traceparent" not in orjson.loads(Envelope(id="j2", type="t").dump())


async def test_without_an_sdk_nothing_is_traced_but_a_caller_s_traceparent_travels(
        api: httpx.AsyncClient, redis: Any, settings: Settings) -> None:
    assert not tracing.enabled()
    plain = (await api.post("/jobs", json={"type": "echo", "payload": {}, "queue": "idle"})).json()
    passed = (await api.post("/jobs", json={"type": "echo", "payload": {}, "queue": "idle"},
                             headers={"traceparent": TRACEPARENT})).json()
    junk = (await api.post("/jobs", json={"type": "echo", "payload": {}, "queue": "idle"},
                           headers={"traceparent": "not-a-trace"})).json()
    prefix = "{" + settings.namespace + "}"
    queued = [orjson.loads(raw) for raw in await redis.lrange(f"{prefix}:queue:idle", 0, -1)]
    by_id = {env["id"]: env for env in queued}
    assert "traceparent" not in by_id[plain["id"]]
    assert by_id[passed["id"]]["traceparent"] == TRACEPARENT
    assert "traceparent" not in by_id[junk["id"]]
    record = orjson.loads(await redis.get(f"{prefix}:job:{passed['id']}"))
    assert record["traceparent"] == TRACEPARENT  # kept for a later retry
    assert "traceparent" not in passed  # the API shows the fields of CONTRACT §3 only


# -- across processes, with the console exporter -----------------------------------


def _console_spans(text: str) -> list[dict[str, Any]]:
    """The spans the console exporter printed (indented JSON objects) among other lines."""
    decoder, out = json.JSONDecoder(), []
    for m in re.finditer(r"^\{$", text, re.M):
        try:
            obj, _ = decoder.raw_decode(text, m.start())
        except ValueError:
            continue
        if isinstance(obj, dict) and "context" in obj and "name" in obj:
            out.append(obj)
    return out


def test_one_trace_across_the_api_and_a_worker_process_with_the_console_exporter(
        redis_url: str, tmp_path: Path) -> None:
    env = base_env(redis_url, f"t{uuid.uuid4().hex[:10]}", OTEL_TRACES_EXPORTER="console",
                   OTEL_BSP_SCHEDULE_DELAY="200")
    env.pop("OTEL_SERVICE_NAME", None)
    server = start_api(tmp_path / "api", env)
    worker = start_worker(tmp_path / "worker", env, "--concurrency", "2")
    try:
        r = server.http.post("/jobs", json={"type": "fail", "payload": {"times": 1},
                                            "max_attempts": 3})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        done = wait_status(server.http, job_id, {"succeeded", "failed"}, timeout_s=30)
        assert done["status"] == "succeeded" and done["attempt"] == 2, done
    finally:
        server.http.close()
        stop_process(worker, grace_s=15)
        stop_process(server.proc)
    worker_log = next((tmp_path / "worker").glob("worker-*.log")).read_text()
    api_spans, worker_spans = _console_spans(server.log.read_text()), _console_spans(worker_log)

    [root] = [s for s in api_spans if s["name"] == "enqueue fail"]
    assert root["attributes"]["job.id"] == job_id
    assert root["resource"]["attributes"]["service.name"] == "agentq-api"
    trace_id = root["context"]["trace_id"]
    runs = [s for s in worker_spans if s["name"] == "run fail"]
    assert sorted(s["attributes"]["job.attempt"] for s in runs) == [1, 2], worker_log[-3000:]
    for span in runs:
        assert span["context"]["trace_id"] == trace_id
        assert span["parent_id"] == root["context"]["span_id"]
        assert span["resource"]["attributes"]["service.name"] == "agentq-worker"
    waits = [s for s in worker_spans if s["name"] == "wait default"]
    assert len(waits) == 2 and {s["context"]["trace_id"] for s in waits} == {trace_id}


def test_tracing_stays_off_unless_an_exporter_is_named_and_can_be_loaded(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    assert tracing.configure("agentq-test") is None
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert tracing.configure("agentq-test") is None
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing.configure("agentq-test") is None
    monkeypatch.delenv("OTEL_SDK_DISABLED")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "no-such-exporter")
    with caplog.at_level("WARNING", "agentq.tracing"):
        assert tracing.configure("agentq-test") is None
    assert "no-such-exporter" in caplog.text
    assert not tracing.enabled()
