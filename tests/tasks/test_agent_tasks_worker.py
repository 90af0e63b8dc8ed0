"""The agent tasks through a real worker process: offline, and against a fake server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from src.queue import Client

from .fake_openai import FakeOpenAI, Step

pytestmark = pytest.mark.timeout(90)

OFFLINE = {"LLM_BASE_URL": "", "LLM_RPM": "", "LLM_TPM": ""}


def remote(server: FakeOpenAI, **more: str) -> dict[str, str]:
    return {"LLM_BASE_URL": server.url, "LLM_API_KEY": "sk-test", "LLM_MODEL": "fake-1",
            "LLM_RETRY_BASE_S": "0.05", "LLM_RETRY_MAX_S": "0.2", "LLM_MAX_RETRIES": "1",
            "LLM_RPM": "", "LLM_TPM": "", **more}


async def events(client: Client, job_id: str) -> list[dict[str, Any]]:
    return [e for _, e in await client.events(job_id, count=10_000)]


async def wait_for(predicate, timeout_s: float = 20, every_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(every_s)


async def test_offline_article_end_to_end(client: Client, spawn_worker) -> None:
    spawn_worker(env={**OFFLINE, "LLM_OFFLINE_DELAY_S": "0.01"})
    job = await client.enqueue("generate_article", {"topic": "Redis streams"})
    rec = await client.wait(job.id, timeout_s=60)
    assert rec["status"] == "succeeded", rec
    result = rec["result"]
    assert result["provider"] == "offline"
    md = result["markdown"]
    assert md.startswith(f"# {result['title']}\n")
    assert md.count("\n## ") == 4  # three sections and the conclusion
    assert result["words"] >= 300 and "Redis streams" in md and "lorem" not in md.lower()

    evs = await events(client, job.id)
    progress = [e for e in evs if e["type"] == "progress"]
    assert len({e["message"] for e in progress}) >= 6
    values = [e["progress"] for e in progress]
    assert values == sorted(values)
    partial = [e for e in evs if e["type"] == "partial"]
    assert len(partial) >= 6
    streamed = "".join(e["text"] for e in partial)
    body = md.split("\n\n", 1)[1]
    for paragraph in body.strip().split("\n\n"):
        if not paragraph.startswith("#"):
            assert paragraph in streamed  # every paragraph was seen being written


async def test_korean_article_sentiment_and_webhook(client: Client, spawn_worker) -> None:
    spawn_worker(env={**OFFLINE, "LLM_OFFLINE_DELAY_S": "0.005"})
    article = await client.enqueue("generate_article", {"topic": "파이썬", "language": "ko",
                                                        "level": "beginner"})
    good = await client.enqueue("sentiment", {"text": "I love it, works great!"})
    bad = await client.enqueue("sentiment", {"text": "최악이에요. 환불해 주세요."})
    hook = await client.enqueue("webhook_event", {
        "source": "github", "body": {"action": "opened", "repository": {"full_name": "a/b"}}})
    recs = {j.id: await client.wait(j.id, timeout_s=60) for j in (article, good, bad, hook)}
    assert all(r["status"] == "succeeded" for r in recs.values()), recs
    ko = recs[article.id]["result"]
    assert ko["language"] == "ko" and "## 마치며" in ko["markdown"] and "파이썬은" in ko["markdown"]
    assert recs[good.id]["result"]["sentiment"] == "positive"
    assert recs[bad.id]["result"]["sentiment"] == "negative"
    assert recs[bad.id]["result"]["provider"] == "offline"
    summary = recs[hook.id]["result"]
    assert summary["source"] == "github" and summary["keys"] == ["action", "repository"]
    assert "action=opened" in summary["summary"] and summary["bytes"] > 0


async def test_cancel_in_the_middle_of_a_streamed_section(client: Client, spawn_worker,
                                                          redis) -> None:
    spawn_worker(env={**OFFLINE, "LLM_OFFLINE_DELAY_S": "0.05"})
    job = await client.enqueue("generate_article", {"topic": "tea"})

    async def writing_section_1() -> bool:
        return any(e["type"] == "partial" and e.get("step") == "section-1"
                   and not e["text"].lstrip().startswith("#")
                   for e in await events(client, job.id))

    await wait_for(writing_section_1)
    asked = time.monotonic()
    await client.cancel(job.id)
    rec = await client.wait(job.id, timeout_s=10)
    assert rec["status"] == "cancelled"
    assert time.monotonic() - asked < 3
    steps = await redis.hkeys(client.keys.steps(job.id))
    assert b"outline" in steps and b"section-1" not in steps
    # Nothing is written after the end: the stream's last event is the terminal status.
    await asyncio.sleep(0.5)
    evs = await events(client, job.id)
    assert evs[-1]["type"] == "status" and evs[-1]["status"] == "cancelled"


async def test_cancel_while_the_server_streams_a_section(client: Client, spawn_worker,
                                                       fake_llm: FakeOpenAI) -> None:
    fake_llm.then(Step(), Step(chunk_delay_s=0.2))  # section 1 trickles in
    spawn_worker(env=remote(fake_llm))
    job = await client.enqueue("generate_article", {"topic": "slow servers"})

    async def streaming() -> bool:
        return any(e["type"] == "partial" and e.get("step") == "section-1"
                   and "Remote text" in e["text"] for e in await events(client, job.id))

    await wait_for(streaming)
    await client.cancel(job.id)
    rec = await client.wait(job.id, timeout_s=10)
    assert rec["status"] == "cancelled"
    await asyncio.sleep(0.5)
    assert fake_llm.purposes() == ["outline", "section-1"]  # nothing asked after the cancel


async def test_article_over_http_with_a_500_storm_then_a_retry(client: Client, spawn_worker,
                                                               fake_llm: FakeOpenAI) -> None:
    fake_llm.then(Step(status=500), Step(status=502))  # both tries of the first attempt
    spawn_worker(env=remote(fake_llm))
    job = await client.enqueue("generate_article", {"topic": "queues"})
    rec = await client.wait(job.id, timeout_s=60)
    assert rec["status"] == "succeeded", rec
    assert rec["attempt"] == 2
    result = rec["result"]
    assert result["provider"] == "openai-compatible" and result["model"] == "fake-1"
    assert result["title"] == "Remote Title"
    assert "Remote text of section 3" in result["markdown"]
    assert [c.status for c in fake_llm.calls][:3] == [500, 502, 200]
    assert fake_llm.purposes()[2:] == ["outline", "section-1", "section-2", "section-3",
                                       "edit", "title"]
    statuses = [e["status"] for e in await events(client, job.id) if e["type"] == "status"]
    assert "scheduled" in statuses


async def test_a_killed_worker_resumes_after_its_last_completed_step(
        client: Client, spawn_worker, fake_llm: FakeOpenAI) -> None:
    # Steps: outline, section-1, section-2 | section-3 (held: the worker dies), edit, title
    fake_llm.then(Step(), Step(), Step(), Step(hold=True))
    first = spawn_worker(env=remote(fake_llm))
    job = await client.enqueue("generate_article", {"topic": "durable steps"})
    await asyncio.to_thread(fake_llm.wait_calls, 4, 30)
    first.kill()
    first.wait(10)
    fake_llm.release()
    spawn_worker(env=remote(fake_llm))
    rec = await client.wait(job.id, timeout_s=45)
    assert rec["status"] == "succeeded", rec
    assert fake_llm.purposes() == ["outline", "section-1", "section-2", "section-3",
                                   "section-3", "edit", "title"]
    md = rec["result"]["markdown"]
    for i in (1, 2, 3):
        assert f"Remote text of section {i}" in md


async def test_two_workers_share_one_request_limit(client: Client, spawn_worker,
                                                   fake_llm: FakeOpenAI) -> None:
    limit, period = 4, 1.5
    env = remote(fake_llm, LLM_RPM=str(limit), LLM_RATELIMIT_PERIOD_S=str(period),
                 LLM_RATELIMIT_MAX_WAIT_S="30")
    spawn_worker(env=env, concurrency=4)
    spawn_worker(env=env, concurrency=4)
    jobs = [await client.enqueue("sentiment", {"text": f"great number {i}"}) for i in range(14)]
    for j in jobs:
        rec = await client.wait(j.id, timeout_s=60)
        assert rec["status"] == "succeeded", rec
    times = sorted(c.at for c in fake_llm.calls)
    assert len(times) == 14
    # The limiter counts at grant time and the server sees arrival: on a loaded machine a
    # granted request can take over 100 ms to arrive, hence the margin. No limit, or twice
    # the limit, still puts 8 or more arrivals in the first window.
    for i, t in enumerate(times):
        inside = [u for u in times[i:] if u < t + period - 0.3]
        assert len(inside) <= limit, (i, [round(u - times[0], 3) for u in times])
    assert times[-1] - times[0] >= (14 // limit - 1) * period - 0.2
