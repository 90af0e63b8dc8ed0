"""generate_article with `review`: it waits after the outline for a person's decision
(real Valkey, a real worker process, the fake OpenAI-compatible server or offline)."""

from __future__ import annotations

from typing import Any

import pytest

from src.queue import Client

from .fake_openai import FakeOpenAI
from .test_agent_tasks_worker import OFFLINE, events, remote, wait_for

pytestmark = pytest.mark.timeout(90)


async def _waiting(client: Client, job_id: str) -> dict[str, Any]:
    rec: dict[str, Any] = {}

    async def check() -> bool:
        nonlocal rec
        rec = await client.get(job_id) or {}
        assert rec.get("status") not in ("succeeded", "failed", "cancelled"), rec
        return rec.get("status") == "waiting"

    await wait_for(check, timeout_s=30)
    return rec


async def test_review_waits_after_the_outline_and_uses_the_edited_one(
        client: Client, spawn_worker, fake_llm: FakeOpenAI) -> None:
    spawn_worker(env=remote(fake_llm), concurrency=1)
    job = await client.enqueue("generate_article", {"topic": "tides", "review": True})
    rec = await _waiting(client, job.id)
    assert rec["waiting_for"]["name"] == "approve"
    assert rec["progress"] == 10 and rec["message"] == "waiting for approve"
    assert fake_llm.purposes() == ["outline"]
    outline = [e for e in await events(client, job.id) if e["type"] == "outline"]
    assert outline == [{**outline[0], "sections": ["Remote part 1", "Remote part 2",
                                                   "Remote part 3"]}]
    assert [s["name"] for s in await client.steps(job.id)] == ["outline"]

    edited = ["Why the moon pulls", "Remote part 2"]
    await client.signal(job.id, "approve", {"outline": edited})
    rec = await client.wait(job.id, timeout_s=60)
    assert rec["status"] == "succeeded", rec
    md = rec["result"]["markdown"]
    assert "## Why the moon pulls\n" in md and "## Remote part 2\n" in md
    assert "Remote part 1" not in md and "Remote part 3" not in md
    assert rec["result"]["sections"] == 2 and rec["attempt"] == 1
    # the outline was planned once though the task ran twice; two sections were written
    assert fake_llm.purposes() == ["outline", "section-1", "section-2", "edit", "title"]
    assert [s["name"] for s in await client.steps(job.id)] == [
        "outline", "wait:approve", "section-1", "section-2", "edit", "title"]
    evs = await events(client, job.id)
    statuses = [e["status"] for e in evs if e["type"] == "status"]
    assert statuses == ["running", "waiting", "queued", "running", "succeeded"]
    assert len([e for e in evs if e["type"] == "outline"]) == 1
    # the bar does not start over when the task runs again after the wait
    progress = [e["progress"] for e in evs if e["type"] == "progress"]
    assert progress == sorted(progress), progress


async def test_review_approved_as_is_offline(client: Client, spawn_worker) -> None:
    spawn_worker(env={**OFFLINE, "LLM_OFFLINE_DELAY_S": "0.005"})
    job = await client.enqueue("generate_article", {"topic": "Redis streams", "review": True})
    await _waiting(client, job.id)
    titles = (await client.steps(job.id))[0]["result"]["sections"]
    await client.signal(job.id, "approve", {"approve": True})
    rec = await client.wait(job.id, timeout_s=60)
    assert rec["status"] == "succeeded", rec
    for section in titles:
        assert f"## {section['title']}\n" in rec["result"]["markdown"]


async def test_review_rejected_fails_without_a_retry(client: Client, spawn_worker,
                                                     fake_llm: FakeOpenAI) -> None:
    spawn_worker(env=remote(fake_llm))
    job = await client.enqueue("generate_article", {"topic": "tides", "review": True})
    await _waiting(client, job.id)
    await client.signal(job.id, "approve", {"reject": "too technical"})
    rec = await client.wait(job.id, timeout_s=30)
    assert rec["status"] == "failed", rec
    assert rec["error"]["message"] == "rejected: too technical"
    assert rec["attempt"] == 1 and rec["max_attempts"] == 3
    statuses = [e["status"] for e in await events(client, job.id) if e["type"] == "status"]
    assert "scheduled" not in statuses
    assert fake_llm.purposes() == ["outline"]


@pytest.mark.parametrize("body", [{"outline": []}, {"outline": ["Intro", " "]},
                                  {"outline": "Intro"}, ["Intro"]])
async def test_an_invalid_review_fails_with_a_clear_message(client: Client, spawn_worker,
                                                            body: Any) -> None:
    spawn_worker(env={**OFFLINE, "LLM_OFFLINE_DELAY_S": "0"})
    job = await client.enqueue("generate_article", {"topic": "tides", "review": True})
    await _waiting(client, job.id)
    await client.signal(job.id, "approve", body)
    rec = await client.wait(job.id, timeout_s=30)
    assert rec["status"] == "failed" and rec["attempt"] == 1, rec
    assert rec["error"]["message"].startswith("invalid review of the outline: ")
    assert "outline" in rec["error"]["message"] or "object" in rec["error"]["message"]


async def test_without_review_nothing_waits(client: Client, spawn_worker) -> None:
    spawn_worker(env={**OFFLINE, "LLM_OFFLINE_DELAY_S": "0"})
    job = await client.enqueue("generate_article", {"topic": "tides"})
    rec = await client.wait(job.id, timeout_s=60)
    assert rec["status"] == "succeeded", rec
    evs = await events(client, job.id)
    assert "waiting" not in [e.get("status") for e in evs]
    assert not [e for e in evs if e["type"] == "outline"]


async def test_no_decision_within_review_timeout_s_fails_the_job(client: Client,
                                                                spawn_worker) -> None:
    spawn_worker(env={**OFFLINE, "LLM_OFFLINE_DELAY_S": "0"})
    job = await client.enqueue("generate_article", {"topic": "tides", "review": True,
                                                    "review_timeout_s": 1})
    rec = await client.wait(job.id, timeout_s=30)
    assert rec["status"] == "failed" and rec["error"]["type"] == "timeout", rec
    assert "approve" in rec["error"]["message"]


def test_the_review_fields_are_validated() -> None:
    from pydantic import ValidationError

    from src.worker.tasks.article_text import ArticleInput, review_titles

    data = ArticleInput(topic="tides")
    assert data.review is False and data.review_timeout_s == 86_400
    with pytest.raises(ValidationError):
        ArticleInput(topic="tides", review_timeout_s=0)
    titles = ["A", "B"]
    assert review_titles({}, titles) == titles
    assert review_titles({"approve": True}, titles) == titles
    assert review_titles({"outline": ["  New   one ", "B"]}, titles) == ["New one", "B"]
    assert isinstance(review_titles({"approve": False}, titles), str)
    assert isinstance(review_titles({"outline": ["x"] * 21}, titles), str)
    assert isinstance(review_titles({"outline": [1]}, titles), str)
