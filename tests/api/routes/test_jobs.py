"""`/jobs` over HTTP, against a real API process, a real worker and a real Valkey."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.api.support import Server, wait_for, wait_status

pytestmark = pytest.mark.usefixtures("worker")


def submit(http: httpx.Client, body: dict[str, Any], **params: Any) -> httpx.Response:
    return http.post("/jobs", json=body, params=params)


def sse_events(
    api: Server, job_id: str, last_event_id: str | None = None, timeout_s: float = 20
) -> list[tuple[str | None, dict[str, Any]]]:
    """Read the whole event stream (it must end by itself within `timeout_s`)."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    events: list[tuple[str | None, dict[str, Any]]] = []
    deadline = time.monotonic() + timeout_s
    with httpx.stream(
        "GET", f"{api.url}/jobs/{job_id}/events", headers=headers, timeout=httpx.Timeout(timeout_s)
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event_id, data = None, None
        for line in response.iter_lines():
            assert time.monotonic() < deadline, "the event stream did not end"
            if line.startswith("id:"):
                event_id = line[3:].strip()
            elif line.startswith("data:"):
                data = json.loads(line[5:].strip())
            elif line == "" and data is not None:
                events.append((event_id, data))
                event_id, data = None, None
    return events


class TestSubmit:
    def test_accepted_with_location_and_record(self, http: httpx.Client, queue_name: str) -> None:
        r = submit(http, {"type": "add", "payload": {"x": 2, "y": 3}, "queue": queue_name})
        assert r.status_code == 202
        job = r.json()
        assert r.headers["location"] == f"/jobs/{job['id']}"
        assert job["status"] == "queued" and job["queue"] == queue_name
        assert job["payload"] == {"x": 2, "y": 3} and job["progress"] == 0
        assert http.get(r.headers["location"]).json()["id"] == job["id"]

    def test_runs_on_a_worker(self, http: httpx.Client) -> None:
        job = submit(http, {"type": "add", "payload": {"x": 2, "y": 3}}).json()
        done = wait_status(http, job["id"], {"succeeded"})
        assert done["result"] == 5 and done["progress"] == 100 and done["attempt"] == 1

    def test_wait_answers_200_with_the_finished_record(self, http: httpx.Client) -> None:
        start = time.monotonic()
        r = submit(http, {"type": "add", "payload": {"x": 40, "y": 2}}, wait=10)
        assert r.status_code == 200
        assert r.json()["status"] == "succeeded" and r.json()["result"] == 42
        assert time.monotonic() - start < 5

    def test_wait_answers_202_when_the_job_outlasts_it(self, http: httpx.Client) -> None:
        start = time.monotonic()
        r = submit(http, {"type": "sleep", "payload": {"seconds": 5, "steps": 5}}, wait=0.5)
        elapsed = time.monotonic() - start
        assert r.status_code == 202
        assert r.json()["status"] in ("queued", "running")
        assert 0.4 < elapsed < 3

    @pytest.mark.parametrize("wait", [61, -1, "soon"])
    def test_wait_out_of_range_is_422(self, http: httpx.Client, wait: Any) -> None:
        r = submit(http, {"type": "add", "payload": {"x": 1, "y": 1}}, wait=wait)
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["query", "wait"]

    def test_unknown_type_is_422_on_type(self, http: httpx.Client) -> None:
        r = submit(http, {"type": "no_such_task", "payload": {}})
        assert r.status_code == 422
        (err,) = r.json()["detail"]
        assert err["loc"] == ["body", "type"] and "no_such_task" in err["msg"]

    def test_bad_payload_is_422_naming_the_field(self, http: httpx.Client) -> None:
        r = submit(http, {"type": "add", "payload": {"y": 1}})
        assert r.status_code == 422
        assert [e["loc"] for e in r.json()["detail"]] == [["body", "payload", "x"]]
        r = submit(http, {"type": "sleep", "payload": {"seconds": -1}})
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "payload", "seconds"]

    @pytest.mark.parametrize(
        ("body", "loc"),
        [
            ({"payload": {}}, ["body", "type"]),
            ({"type": "add", "payload": [1, 2]}, ["body", "payload"]),
            ({"type": "echo", "queue": "has space"}, ["body", "queue"]),
            ({"type": "echo", "max_attempts": 0}, ["body", "max_attempts"]),
            ({"type": "echo", "delay_s": -5}, ["body", "delay_s"]),
            ({"type": "echo", "timeout_s": 0}, ["body", "timeout_s"]),
            ({"type": "echo", "surprise": 1}, ["body", "surprise"]),
        ],
    )
    def test_bad_fields_are_422(
        self, http: httpx.Client, body: dict[str, Any], loc: list[str]
    ) -> None:
        r = submit(http, body)
        assert r.status_code == 422
        assert loc in [e["loc"] for e in r.json()["detail"]]

    def test_body_that_is_not_json_is_422(self, http: httpx.Client) -> None:
        r = http.post(
            "/jobs", content=b'{"type": "add",', headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 422
        assert r.json()["detail"][0]["type"] == "json_invalid"

    def test_body_that_is_not_utf8_is_422(self, http: httpx.Client) -> None:
        r = http.post(
            "/jobs", content=b"\x05Q>\xff\xfe", headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body"]

    @pytest.mark.parametrize(
        ("body", "loc"),
        [
            (b'{"type": "echo", "payload": {"a": 123456789012345678901234567890}}', "payload"),
            (b'{"type": "echo", "payload": {"a": "\\ud800"}}', "payload"),
            (b'{"type": "echo", "payload": {"a": ' + b"[" * 300 + b"]" * 300 + b"}}", "payload"),
            (b'{"type": "echo", "idempotency_key": "\\udfff"}', "idempotency_key"),
            (b'{"type": "echo", "callback_url": "http://example.com/\\ud800"}', "callback_url"),
        ],
        ids=[
            "int-beyond-64-bits",
            "lone-surrogate",
            "nested-300",
            "key-surrogate",
            "url-surrogate",
        ],
    )
    def test_json_that_cannot_be_stored_is_422(
        self, http: httpx.Client, body: bytes, loc: str
    ) -> None:
        r = http.post("/jobs", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", loc]

    def test_422_echoing_nan_or_surrogates_is_still_json(self, http: httpx.Client) -> None:
        body = b'{"type": "add", "payload": {"x": NaN, "s": "\\ud800", "z": -Infinity}}'
        r = http.post("/jobs", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 422
        (err,) = r.json()["detail"]
        assert err["loc"] == ["body", "payload", "y"]
        assert err["input"] == {"x": "nan", "s": "\ud800", "z": "-inf"}

    def test_idempotency_key_gives_the_first_job_with_200(self, http: httpx.Client) -> None:
        key = f"key-{uuid.uuid4().hex}"
        first = submit(http, {"type": "echo", "payload": {"n": 1}, "idempotency_key": key})
        again = submit(http, {"type": "echo", "payload": {"n": 2}, "idempotency_key": key})
        assert first.status_code == 202 and again.status_code == 200
        assert again.json()["id"] == first.json()["id"]
        assert again.json()["payload"] == {"n": 1}
        assert again.headers["location"] == f"/jobs/{first.json()['id']}"

    def test_delay_schedules_then_runs(self, http: httpx.Client) -> None:
        start = time.monotonic()
        r = submit(http, {"type": "add", "payload": {"x": 1, "y": 1}, "delay_s": 1.5})
        assert r.status_code == 202 and r.json()["status"] == "scheduled"
        done = wait_status(http, r.json()["id"], {"succeeded"}, timeout_s=15)
        assert done["result"] == 2
        assert time.monotonic() - start >= 1.4

    @staticmethod
    def _queued_envelope(redis_url: str, api: Server, queue: str, job_id: str) -> dict[str, Any]:
        """The envelope of a job waiting in `queue` (CONTRACT §5: `{ns}:queue:{queue}`)."""
        import redis

        with redis.Redis.from_url(redis_url) as r:
            raws = r.lrange(f"{{{api.namespace}}}:queue:{queue}", 0, -1)
        envs = [json.loads(raw) for raw in raws]
        return next(e for e in envs if e["id"] == job_id)

    def test_task_defaults_apply(
        self, http: httpx.Client, api: Server, queue_name: str, redis_url: str
    ) -> None:
        # The tasks' own values, as declared in src/worker/tasks/: webhook_event has
        # max_attempts=5 and timeout_s=30, echo timeout_s=10; neither is the generic 3 / 600.
        body = {"source": "github", "body": {"action": "opened"}}
        for type_, payload, (max_attempts, timeout_s) in (
            ("webhook_event", body, (5, 30)),
            ("echo", {"n": 1}, (3, 10)),
        ):
            r = submit(http, {"type": type_, "payload": payload, "queue": queue_name})
            assert r.status_code == 202, r.text
            job = r.json()
            assert job["max_attempts"] == max_attempts, type_
            env = self._queued_envelope(redis_url, api, queue_name, job["id"])
            assert env["max_attempts"] == max_attempts, type_
            # absent means "the task's own" (CONTRACT §5); present, it must be that value
            assert env.get("timeout_s", timeout_s) == timeout_s, type_

    def test_task_defaults_can_be_overridden(
        self, http: httpx.Client, api: Server, queue_name: str, redis_url: str
    ) -> None:
        body = {"source": "github", "body": {"action": "opened"}}
        r = submit(
            http,
            {
                "type": "webhook_event",
                "payload": body,
                "queue": queue_name,
                "max_attempts": 7,
                "timeout_s": 45,
            },
        )
        assert r.status_code == 202, r.text
        assert r.json()["max_attempts"] == 7
        env = self._queued_envelope(redis_url, api, queue_name, r.json()["id"])
        assert env["max_attempts"] == 7 and env["timeout_s"] == 45

    def test_callback_to_a_private_address_is_422(self, http: httpx.Client) -> None:
        for url in (
            "http://10.1.2.3/hook",
            "http://localhost:9/hook",
            "ftp://example.com/x",
            "not a url",
        ):
            r = submit(http, {"type": "echo", "callback_url": url})
            assert r.status_code == 422, url
            assert r.json()["detail"][0]["loc"] == ["body", "callback_url"]

    def test_callback_to_an_allowed_host_is_accepted(
        self, http: httpx.Client, queue_name: str
    ) -> None:
        r = submit(
            http, {"type": "echo", "queue": queue_name, "callback_url": "http://127.0.0.1:9/hook"}
        )
        assert r.status_code == 202


class TestRead:
    def test_unknown_job_is_404(self, http: httpx.Client) -> None:
        r = http.get("/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E")
        assert r.status_code == 404
        assert "not found" in r.json()["detail"]

    def test_list_newest_first_with_paging(self, http: httpx.Client, queue_name: str) -> None:
        ids = [
            submit(http, {"type": "echo", "payload": {"i": i}, "queue": queue_name}).json()["id"]
            for i in range(5)
        ]
        page = http.get("/jobs", params={"queue": queue_name, "limit": 2}).json()
        assert [j["id"] for j in page["jobs"]] == ids[::-1][:2]
        seen = [j["id"] for j in page["jobs"]]
        while page["next_before"]:
            page = http.get(
                "/jobs", params={"queue": queue_name, "limit": 2, "before": page["next_before"]}
            ).json()
            seen += [j["id"] for j in page["jobs"]]
        assert seen == ids[::-1]

    def test_list_filters(self, http: httpx.Client, queue_name: str) -> None:
        echo = submit(http, {"type": "echo", "queue": queue_name}).json()
        add = submit(http, {"type": "add", "payload": {"x": 1, "y": 2}, "queue": queue_name}).json()
        http.post(f"/jobs/{echo['id']}/cancel")
        by_type = http.get("/jobs", params={"queue": queue_name, "type": "add"}).json()["jobs"]
        assert [j["id"] for j in by_type] == [add["id"]]
        by_status = http.get("/jobs", params={"queue": queue_name, "status": "cancelled"}).json()[
            "jobs"
        ]
        assert [j["id"] for j in by_status] == [echo["id"]]

    @pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"status": "sleeping"}])
    def test_list_bad_query_is_422(self, http: httpx.Client, params: dict[str, Any]) -> None:
        r = http.get("/jobs", params=params)
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["query", next(iter(params))]


class TestEvents:
    def test_stream_follows_progress_and_ends_after_the_terminal_event(self, api: Server) -> None:
        job = submit(api.http, {"type": "sleep", "payload": {"seconds": 0.8, "steps": 4}}).json()
        events = sse_events(api, job["id"])
        assert events, "no events"
        assert all(eid for eid, _ in events), "every event has an id"
        kinds = [(e["type"], e.get("status"), e.get("progress")) for _, e in events]
        progress = [p for t, _, p in kinds if t == "progress"]
        assert progress == sorted(progress) and progress[-1] == 100
        assert kinds[-1][:2] == ("status", "succeeded")
        assert ("status", "running") in [(t, s) for t, s, _ in kinds]

    def test_last_event_id_resumes_after_it(self, api: Server) -> None:
        job = submit(api.http, {"type": "sleep", "payload": {"seconds": 0.4, "steps": 4}}).json()
        events = sse_events(api, job["id"])
        middle = len(events) // 2
        resumed = sse_events(api, job["id"], last_event_id=events[middle][0])
        assert [eid for eid, _ in resumed] == [eid for eid, _ in events[middle + 1 :]]

    def test_resume_after_the_end_repeats_the_final_state(self, api: Server) -> None:
        job = submit(api.http, {"type": "add", "payload": {"x": 1, "y": 1}}, wait=10).json()
        events = sse_events(api, job["id"])
        again = sse_events(api, job["id"], last_event_id=events[-1][0])
        assert len(again) == 1 and again[0][1]["status"] == "succeeded"

    def test_unknown_job_is_404(self, http: httpx.Client) -> None:
        assert http.get("/jobs/nope/events").status_code == 404

    def test_bad_last_event_id_is_422(self, http: httpx.Client) -> None:
        job = submit(http, {"type": "add", "payload": {"x": 1, "y": 1}}, wait=10).json()
        r = http.get(f"/jobs/{job['id']}/events", headers={"Last-Event-ID": "yesterday"})
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["header", "Last-Event-ID"]


class TestCancel:
    def test_queued_job_is_cancelled_at_once_and_never_runs(
        self, http: httpx.Client, queue_name: str
    ) -> None:
        job = submit(http, {"type": "echo", "queue": queue_name}).json()
        r = http.post(f"/jobs/{job['id']}/cancel")
        assert r.status_code == 202 and r.json()["status"] == "cancelled"
        assert http.get(f"/jobs/{job['id']}").json()["status"] == "cancelled"

    def test_running_job_is_cancelled_within_a_heartbeat(self, http: httpx.Client) -> None:
        job = submit(http, {"type": "sleep", "payload": {"seconds": 30, "steps": 30}}).json()
        wait_status(http, job["id"], {"running"})
        r = http.post(f"/jobs/{job['id']}/cancel")
        assert r.status_code == 202
        start = time.monotonic()
        wait_for(
            lambda: http.get(f"/jobs/{job['id']}").json()["status"] == "cancelled", timeout_s=5
        )
        assert time.monotonic() - start < 5

    def test_finished_job_is_409(self, http: httpx.Client) -> None:
        job = submit(http, {"type": "add", "payload": {"x": 1, "y": 1}}, wait=10).json()
        assert job["status"] == "succeeded"
        r = http.post(f"/jobs/{job['id']}/cancel")
        assert r.status_code == 409 and "succeeded" in r.json()["detail"]

    def test_unknown_job_is_404(self, http: httpx.Client) -> None:
        assert http.post("/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E/cancel").status_code == 404


class TestRetry:
    def test_failed_job_runs_again_from_attempt_one(self, http: httpx.Client) -> None:
        r = submit(http, {"type": "fail", "payload": {"times": 1}, "max_attempts": 1}, wait=10)
        failed = r.json()
        assert failed["status"] == "failed" and failed["error"]["type"] == "exception"
        r = http.post(f"/jobs/{failed['id']}/retry")
        assert r.status_code == 202 and r.json()["status"] == "queued"
        # attempt 1 again; `fail` with times=1 fails again on attempt 1
        done = wait_status(http, failed["id"], {"failed", "succeeded"})
        assert done["attempt"] == 1

    def test_cancelled_job_can_be_retried(self, http: httpx.Client, queue_name: str) -> None:
        job = submit(http, {"type": "echo", "queue": queue_name}).json()
        http.post(f"/jobs/{job['id']}/cancel")
        r = http.post(f"/jobs/{job['id']}/retry")
        assert r.status_code == 202 and r.json()["status"] == "queued"

    def test_queued_or_succeeded_job_is_409(self, http: httpx.Client, queue_name: str) -> None:
        queued = submit(http, {"type": "echo", "queue": queue_name}).json()
        assert http.post(f"/jobs/{queued['id']}/retry").status_code == 409
        done = submit(http, {"type": "add", "payload": {"x": 1, "y": 1}}, wait=10).json()
        assert http.post(f"/jobs/{done['id']}/retry").status_code == 409

    def test_unknown_job_is_404(self, http: httpx.Client) -> None:
        assert http.post("/jobs/01JD6Z5Q3M8X4K2V7B9N0C1D2E/retry").status_code == 404


class TestBodyLimit:
    """The API runs with the default AGENTQ_MAX_PAYLOAD_BYTES (1 MiB)."""

    def test_content_length_above_the_limit_is_413(self, http: httpx.Client) -> None:
        big = {"type": "echo", "payload": {"blob": "x" * (1024 * 1024 + 1)}}
        r = http.post("/jobs", json=big)
        assert r.status_code == 413
        assert "1048576" in r.json()["detail"]

    def test_chunked_body_above_the_limit_is_413(self, http: httpx.Client) -> None:
        def chunks():  # no Content-Length: the body streams in
            yield b'{"type": "echo", "payload": {"blob": "'
            for _ in range(40):
                yield b"x" * 32768
            yield b'"}}'

        r = http.post("/jobs", content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413

    def test_body_just_under_the_limit_is_accepted(
        self, http: httpx.Client, queue_name: str
    ) -> None:
        body = json.dumps({"type": "echo", "queue": queue_name, "payload": {"blob": ""}})
        pad = 1024 * 1024 - len(body)
        body = json.dumps({"type": "echo", "queue": queue_name, "payload": {"blob": "x" * pad}})
        assert len(body) == 1024 * 1024
        r = http.post("/jobs", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 202


def test_list_times_must_be_iso_8601(http: httpx.Client) -> None:
    for value in ("-812", "1732262400", "1.5e9"):
        r = http.get("/jobs", params={"until": value})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "until"]
    assert http.get("/jobs", params={"since": "2026-11-30T00:00:00Z"}).status_code == 200
