"""The LLM usage ledger: tokens and cost in the job's record, the job's token budget, the
shared TPM limit corrected to real use, and the counters in `/metrics`.

Real Valkey (the session's), real worker processes, and the fake OpenAI-compatible server,
which reports token counts as OpenAI does (when a streamed request asks for them).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import orjson
import pytest

from src.api.app import create_app
from src.api.metrics import MAX_LLM_LABEL_VALUES, OTHER, ApiMetrics
from src.api.settings import ApiSettings
from src.queue import Client, ops
from src.queue.histograms import Observed
from src.queue.settings import Settings
from src.worker import JobContext, Retry, Worker, registry, task
from src.worker.llm import LLM, ChatRequest, LLMSettings, OpenAICompatible, llm_for
from src.worker.ratelimit import RateLimiter
from tests.support import ROOT

from .fake_openai import FakeOpenAI, Step
from .test_agent_tasks_worker import remote

pytestmark = pytest.mark.timeout(90)

LABEL = re.compile(r'(\w+)="([^"]*)"')
PRICES = {"fake-1": {"prompt": 1.5, "completion": 6.0}}  # USD per million tokens


@pytest.fixture
def silent_llm() -> Iterator[FakeOpenAI]:
    """A server that never reports token counts (an old or minimal server)."""
    server = FakeOpenAI(usage="never").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API in this process (its lifespan run), on the test's namespace."""
    app = create_app(ApiSettings(REDIS_URL=settings.redis_url,
                                 AGENTQ_NAMESPACE=settings.namespace))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://agentq.test", timeout=30) as http:
            yield http


def reported(server: FakeOpenAI) -> tuple[int, int]:
    calls = [c for c in server.calls if c.status == 200]
    assert all(c.usage for c in calls)
    return (sum(c.usage["prompt_tokens"] for c in calls),
            sum(c.usage["completion_tokens"] for c in calls))


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of the series `name` with exactly `labels`, None when absent."""
    for line in text.splitlines():
        head, _, value = line.rpartition(" ")
        if head.startswith(name + "{") and dict(LABEL.findall(head)) == labels:
            return float(value)
    return None


# -- the record's usage ---------------------------------------------------------------

async def test_the_record_holds_the_sum_of_what_the_server_reported(
        client: Client, spawn_worker, fake_llm: FakeOpenAI, api: httpx.AsyncClient) -> None:
    spawn_worker(env=remote(fake_llm, AGENTQ_LLM_PRICES=orjson.dumps(PRICES).decode()))
    job = await client.enqueue("generate_article", {"topic": "ledgers", "length": "short"})
    rec = await client.wait(job.id, timeout_s=60)
    assert rec["status"] == "succeeded", rec

    assert len(fake_llm.calls) == 6  # outline, 3 sections, edit, title
    assert all(c.body["stream_options"] == {"include_usage": True} for c in fake_llm.calls)
    prompt, completion = reported(fake_llm)
    usage = rec["usage"]
    assert usage["prompt_tokens"] == prompt and usage["completion_tokens"] == completion
    assert usage["calls"] == 6 and "estimated" not in usage
    assert usage["cost"] == pytest.approx((prompt * 1.5 + completion * 6.0) / 1e6)

    # The API shows it, and /metrics counts it by type, tenant and model.
    shown = (await api.get(f"/jobs/{job.id}")).json()
    assert shown["usage"] == usage
    text = (await api.get("/metrics")).text
    labels = {"type": "generate_article", "tenant": "default", "model": "fake-1"}
    assert metric(text, "agentq_llm_prompt_tokens_total", **labels) == prompt
    assert metric(text, "agentq_llm_completion_tokens_total", **labels) == completion
    assert metric(text, "agentq_llm_calls_total", **labels) == 6
    assert metric(text, "agentq_llm_cost_usd_total", **labels) == pytest.approx(usage["cost"])


async def test_usage_is_estimated_and_marked_when_the_server_reports_none(
        client: Client, spawn_worker, silent_llm: FakeOpenAI) -> None:
    spawn_worker(env=remote(silent_llm))  # no prices: the cost is unknown
    job = await client.enqueue("sentiment", {"text": "I love this queue"})
    rec = await client.wait(job.id, timeout_s=30)
    assert rec["status"] == "succeeded", rec
    assert silent_llm.calls[0].usage is None
    usage = rec["usage"]
    assert usage["estimated"] is True and usage["calls"] == 1 and usage["cost"] is None
    prompt_bytes = len(silent_llm.calls[0].prompt.encode())
    assert usage["prompt_tokens"] == pytest.approx(prompt_bytes / 4, abs=2)
    assert usage["completion_tokens"] >= 1


async def test_usage_carries_over_to_the_next_attempt(client: Client, spawn_worker,
                                                      fake_llm: FakeOpenAI) -> None:
    # The first attempt writes the outline, then the server fails every try of section 1
    # (LLM_MAX_RETRIES=1: two tries) and the job is retried; the record counts both.
    fake_llm.then(Step(), Step(status=500), Step(status=500))
    spawn_worker(env=remote(fake_llm))
    job = await client.enqueue("generate_article", {"topic": "retries", "length": "short"})
    rec = await client.wait(job.id, timeout_s=60)
    assert rec["status"] == "succeeded" and rec["attempt"] == 2, rec
    prompt, completion = reported(fake_llm)
    assert rec["usage"]["calls"] == 6  # the failed tries got no answer: not counted
    assert (rec["usage"]["prompt_tokens"], rec["usage"]["completion_tokens"]) == (prompt,
                                                                                  completion)


async def test_usage_is_kept_across_a_wait_for_a_signal(client: Client, spawn_worker,
                                                        fake_llm: FakeOpenAI) -> None:
    # The outline is written (one call), the job waits for its review, then resumes: the
    # record counts the calls of both runs, and the worker's metrics count each once.
    spawn_worker(env=remote(fake_llm))
    job = await client.enqueue("generate_article", {"topic": "waits", "length": "short",
                                                    "review": True})
    for _ in range(300):
        rec = await client.get(job.id)
        if rec and rec["status"] == "waiting":
            break
        await asyncio.sleep(0.05)
    assert rec["status"] == "waiting" and rec["usage"]["calls"] == 1, rec
    await client.signal(job.id, "approve", {})
    rec = await client.wait(job.id, timeout_s=60)
    assert rec["status"] == "succeeded", rec
    prompt, completion = reported(fake_llm)
    assert rec["usage"]["calls"] == len([c for c in fake_llm.calls if c.status == 200])
    assert (rec["usage"]["prompt_tokens"], rec["usage"]["completion_tokens"]) == (prompt,
                                                                                  completion)
    # the metrics hash counts the two runs' calls once each
    fields = {k.decode(): int(v) for k, v in (await client.redis.hgetall(
        client.keys.metrics)).items()}
    calls = sum(v for k, v in fields.items() if k.startswith("llm_calls:"))
    assert calls == rec["usage"]["calls"], fields
    # and the last hour's use per tenant and model (the Dashboard's table) says the same
    (row,) = await client.recent_usage(60)
    assert (row["tenant"], row["prompt_tokens"], row["completion_tokens"], row["calls"]) == (
        "default", prompt, completion, rec["usage"]["calls"])
    assert await client.recent_usage(60, tenant="acme") == []


# -- the budget -----------------------------------------------------------------------

async def test_a_job_past_its_token_budget_fails_for_good(client: Client, spawn_worker,
                                                          fake_llm: FakeOpenAI) -> None:
    fake_llm.then(Step(usage=(3000, 10)), Step(usage=(3000, 10)))
    spawn_worker(env=remote(fake_llm))
    job = await client.enqueue("generate_article", {"topic": "budgets"}, max_tokens=5000)
    rec = await client.wait(job.id, timeout_s=30)
    assert rec["status"] == "failed", rec
    assert rec["error"]["type"] == "budget" and "5000" in rec["error"]["message"]
    assert rec["attempt"] == 1 and rec["max_attempts"] == 3  # not retried
    assert rec["max_tokens"] == 5000
    # The outline (3010) fit; section 1's reservation still fit; its 3010 passed the budget.
    assert fake_llm.purposes() == ["outline", "section-1"]
    assert rec["usage"]["prompt_tokens"] == 6000 and rec["usage"]["completion_tokens"] == 20


async def test_a_call_whose_reservation_would_pass_the_budget_is_not_made(
        client: Client, spawn_worker, fake_llm: FakeOpenAI, api: httpx.AsyncClient) -> None:
    spawn_worker(env=remote(fake_llm))
    # Through the API: the sentiment request reserves its prompt plus 40 answer tokens.
    resp = await api.post("/jobs", json={"type": "sentiment", "payload": {"text": "fine"},
                                         "max_tokens": 20})
    assert resp.status_code == 202, resp.text
    rec = await client.wait(resp.json()["id"], timeout_s=30)
    assert rec["status"] == "failed" and rec["error"]["type"] == "budget", rec
    assert fake_llm.calls == []
    assert "usage" not in rec
    shown = (await api.get(f"/jobs/{rec['id']}")).json()
    assert shown["error"]["type"] == "budget" and shown["max_tokens"] == 20

    bad = await api.post("/jobs", json={"type": "sentiment", "payload": {"text": "x"},
                                        "max_tokens": 0})
    assert bad.status_code == 422 and "max_tokens" in bad.text


@task("ledger_offline_chat", max_tokens=30, timeout_s=10, max_attempts=3)
async def offline_chat(ctx: JobContext, data: dict) -> int:
    """`calls` offline calls, each reserving its 1-token prompt plus 10 answer tokens."""
    llm = llm_for(ctx, LLMSettings.from_env({"LLM_OFFLINE_DELAY_S": "0"}))
    for _ in range(data["calls"]):
        await llm.complete(ChatRequest([{"role": "user", "content": "hi"}], max_tokens=10))
    if data.get("hold_s"):  # a progress write, then time for the test to read the record
        await ctx.progress(50, "called")
        await asyncio.sleep(data["hold_s"])
    return ctx.usage.total_tokens


@pytest.fixture
async def worker(settings: Settings) -> AsyncIterator[Worker]:
    """A worker running in this process (for the task above), stopped at the end."""
    w = Worker(settings, registry, concurrency=2)
    run = asyncio.create_task(w.run())
    yield w
    w.request_stop()
    await asyncio.wait_for(run, 30)


@pytest.mark.usefixtures("worker")
async def test_the_tasks_budget_applies_unless_the_job_sets_its_own(client: Client) -> None:
    # Offline, a call uses 1 + ~17 estimated tokens: one fits the task's 30, two do not.
    one = await client.enqueue("ledger_offline_chat", {"calls": 1})
    two = await client.enqueue("ledger_offline_chat", {"calls": 2})
    own = await client.enqueue("ledger_offline_chat", {"calls": 2}, max_tokens=1000)
    tiny = await client.enqueue("ledger_offline_chat", {"calls": 1}, max_tokens=5)
    rec = await client.wait(one.id, timeout_s=20)
    assert rec["status"] == "succeeded", rec
    per_call = rec["result"]
    assert 15 < per_call <= 19
    assert rec["usage"] == {"prompt_tokens": 1, "completion_tokens": per_call - 1, "calls": 1,
                            "cost": None, "estimated": True}
    rec = await client.wait(two.id, timeout_s=20)
    assert rec["status"] == "failed" and rec["error"]["type"] == "budget", rec
    assert rec["attempt"] == 1 and rec["usage"]["calls"] == 2  # counted, then stopped
    rec = await client.wait(own.id, timeout_s=20)
    assert rec["status"] == "succeeded" and rec["result"] == 2 * per_call, rec
    rec = await client.wait(tiny.id, timeout_s=20)  # 11 reserved > 5: no call at all
    assert rec["status"] == "failed" and rec["error"]["type"] == "budget", rec
    assert "usage" not in rec


@pytest.mark.usefixtures("worker")
async def test_a_progress_write_shows_the_usage_so_far(client: Client) -> None:
    job = await client.enqueue("ledger_offline_chat", {"calls": 1, "hold_s": 1.0})
    deadline = time.monotonic() + 10
    while (rec := await client.get(job.id))["progress"] != 50:
        assert time.monotonic() < deadline, rec
        await asyncio.sleep(0.02)
    assert rec["status"] == "running" and rec["usage"]["calls"] == 1, rec
    done = await client.wait(job.id, timeout_s=10)
    assert done["status"] == "succeeded" and done["usage"] == rec["usage"]


def test_a_tasks_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        task("ledger_bad_budget", max_tokens=0)


async def test_bad_prices_are_refused_naming_the_variable() -> None:
    with pytest.raises(ValueError, match="AGENTQ_LLM_PRICES"):
        LLMSettings.from_env({"AGENTQ_LLM_PRICES": '{"m": {"prompt": "cheap"}}'})
    table = LLMSettings.from_env({"AGENTQ_LLM_PRICES": '{"m": {"prompt": 1, "completion": 2}}'})
    assert table.price_table() == {"m": (1.0, 2.0)}
    # A worker checks them at start: exit 2, the variable named, no job taken.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "src.worker", "--burst", cwd=ROOT,
        env={**os.environ, "AGENTQ_LLM_PRICES": "{not json", "REDIS_URL": "redis://127.0.0.1:1/0"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and b"invalid setting AGENTQ_LLM_PRICES" in out, out


# -- the shared TPM limit -------------------------------------------------------------

@pytest.fixture
def key(namespace: str) -> str:
    return f"{{{namespace}}}:ratelimit:llm"


async def test_the_adjust_script_gives_back_and_adds_tokens(redis, key) -> None:
    t0, period, slots = 1_000_000 * 60_000, 60_000, 20  # slot width 3 s

    async def ask(tokens: int, now: int) -> int:
        return await ops.ratelimit(redis, key, rpm=0, tpm=1000, tokens=tokens, period_ms=period,
                                   slots=slots, now_ms=now, want_slot=True)

    async def adjust(delta: int, slot: int, now: int) -> int:
        return await ops.ratelimit_adjust(redis, key, delta=delta, slot=slot, period_ms=period,
                                          slots=slots, now_ms=now)

    granted = await ask(800, t0)
    assert granted <= 0 and -granted == t0 // 3000
    assert await ask(800, t0 + 3000) > 0             # 1600 would pass 1000: wait
    assert await adjust(-700, -granted, t0 + 3000) == -700
    assert await ask(800, t0 + 3000) <= 0            # 100 + 800 fit now
    assert await adjust(-5000, -granted, t0 + 3000) == -100  # never below zero
    assert await adjust(+150, -granted, t0 + 3000) == 150    # into the current slot
    assert await ask(100, t0 + 3000) > 0             # 800 + 150 + 100 > 1000
    # A slot that has left the window has nothing left to give back.
    assert await adjust(-100, -granted, t0 + 22 * 3000) == 0
    await redis.delete(key)


def _llm(server: FakeOpenAI, limiter: RateLimiter, *, corrected: bool) -> LLM:
    settings = LLMSettings.from_env({"LLM_BASE_URL": server.url, "LLM_MODEL": "fake-1",
                                     "LLM_MAX_RETRIES": "0"})
    provider = OpenAICompatible(settings)
    if corrected:
        return LLM(provider, limiter=limiter)
    return LLM(provider, limiter.acquire)  # the estimate stays counted


def _request() -> ChatRequest:
    return ChatRequest([{"role": "user", "content": "Give a title to an article on queues."}],
                       max_tokens=600)


@pytest.mark.parametrize("corrected", [True, False], ids=["corrected", "uncorrected"])
async def test_a_call_that_used_less_than_its_estimate_frees_the_difference(
        redis, key, fake_llm: FakeOpenAI, corrected: bool) -> None:
    # Each call reserves ~610 tokens of a 1000-a-minute limit but uses ~10.
    limiter = RateLimiter(redis, key, tpm=1000, period_s=60, max_wait_s=1.0)
    llm = _llm(fake_llm, limiter, corrected=corrected)
    try:
        assert (await llm.complete(_request())).text == "Remote Title"
        started = time.monotonic()
        if corrected:  # the second call proceeds at once
            assert (await llm.complete(_request())).text == "Remote Title"
            assert time.monotonic() - started < 0.5
            used = sum(c.usage["prompt_tokens"] + c.usage["completion_tokens"]
                       for c in fake_llm.calls)
            counted = sum(int(v) for f, v in (await redis.hgetall(key)).items()
                          if f.endswith(b":t"))
            assert counted == used
        else:  # without the correction it would wait most of a minute
            with pytest.raises(Retry):
                await llm.complete(_request())
            assert len(fake_llm.calls) == 1
    finally:
        await llm.provider.aclose()
        await redis.delete(key)


# -- /metrics --------------------------------------------------------------------------

def test_metrics_show_the_busiest_tenants_and_models_and_fold_the_rest() -> None:
    n = MAX_LLM_LABEL_VALUES + 5
    llm = {("sentiment", f"tenant-{i:02d}", "fake-1"): [100 + i, 10, 1, 0] for i in range(n)}
    llm[("sentiment", "tenant-00", "other-model")] = [1, 1, 1, 2_000_000_000]
    text = ApiMetrics().render({"queues": [], "observed": Observed(llm=llm)}).decode()
    tenants = {line.split('tenant="')[1].split('"')[0] for line in text.splitlines()
               if line.startswith("agentq_llm_prompt_tokens_total{")}
    assert len(tenants) == MAX_LLM_LABEL_VALUES + 1 and OTHER in tenants
    # The five with the fewest tokens are summed under _other.
    folded = sum(100 + i for i in range(5))
    assert metric(text, "agentq_llm_prompt_tokens_total", type="sentiment", tenant=OTHER,
                  model="fake-1") == folded
    assert metric(text, "agentq_llm_cost_usd_total", type="sentiment", tenant="tenant-00",
                  model="other-model") is None  # tenant-00 is among the five folded
    assert metric(text, "agentq_llm_cost_usd_total", type="sentiment", tenant=OTHER,
                  model="other-model") == 2.0
