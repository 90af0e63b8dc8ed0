"""Metrics you can chart: run and wait histograms per task type, failures by error type, and
a Grafana dashboard and Prometheus alert rules that query only metrics `/metrics` has."""

from __future__ import annotations

import asyncio
import json
import math
import re
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from src.queue import histograms
from src.worker import Worker
from tests.api.support import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "agentq.json"
ALERTS = ROOT / "deploy" / "prometheus" / "agentq-alerts.yml"
_METRIC = re.compile(r"\bagentq_[a-z0-9_]+\b")


def test_observations_count_into_one_bucket_and_read_back_cumulative() -> None:
    fields: dict[str, int] = {}
    for run_s, wait_s, error in ((0.3, 0.002, None), (0.3, 2.0, "timeout"), (7200.0, 0.0, None)):
        pairs = histograms.observations("t", run_s, wait_s, error)
        for name, inc in zip(pairs[::2], pairs[1::2], strict=True):
            fields[str(name)] = fields.get(str(name), 0) + int(inc)
    assert fields["run:0.5:t"] == 2 and fields["run:+Inf:t"] == 1
    assert fields["wait:0.005:t"] == 2 and fields["wait:2.5:t"] == 1
    assert fields["fail:timeout:t"] == 1 and fields["run_ms:t"] == 7200600

    observed = histograms.read({k.encode(): str(v).encode() for k, v in fields.items()})
    run = observed.histograms[("run", "t")]
    assert run.buckets == [(0.5, 2), (math.inf, 3)] and run.count == 3
    assert run.sum_s == 7200.6
    assert observed.histograms[("wait", "t")].buckets[-1] == (math.inf, 3)
    assert observed.failures == {("t", "timeout"): 1}


def _samples(text: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def _value(samples: dict[str, list[Any]], name: str, **labels: str) -> float:
    [sample] = [s for s in samples.get(name, []) if labels.items() <= s.labels.items()]
    return sample.value


async def _metrics_after_some_jobs(api: httpx.AsyncClient) -> dict[str, list[Any]]:
    for body in ({"type": "obs_flaky", "payload": {}}, {"type": "obs_fails", "payload": {}}):
        r = await api.post("/jobs?wait=30", json=body)
        assert r.json()["status"] in ("succeeded", "failed"), r.text
    await asyncio.sleep(0.2)  # the worker's finish writes are in; its heartbeat too
    r = await api.get("/metrics")
    assert r.status_code == 200
    return _samples(r.text)


async def test_metrics_has_run_and_wait_histograms_per_type_and_failures_by_error_type(
        api: httpx.AsyncClient, worker: Worker) -> None:
    samples = await _metrics_after_some_jobs(api)
    # obs_flaky: two attempts (one failed and retried); obs_fails: one failed attempt
    assert _value(samples, "agentq_job_run_seconds_count", type="obs_flaky") == 2
    assert _value(samples, "agentq_job_wait_seconds_count", type="obs_flaky") == 2
    assert _value(samples, "agentq_job_run_seconds_count", type="obs_fails") == 1
    assert _value(samples, "agentq_job_run_seconds_bucket", type="obs_flaky", le="+Inf") == 2
    assert _value(samples, "agentq_job_wait_seconds_sum", type="obs_flaky") > 0.1  # back-off
    assert _value(samples, "agentq_attempt_failures_total", type="obs_flaky",
                  error_type="exception") == 1
    assert _value(samples, "agentq_attempt_failures_total", type="obs_fails",
                  error_type="exception") == 1
    # jobs that ended, by type, tenant and status (the retried attempt is not an end)
    assert _value(samples, "agentq_jobs_ended_total", type="obs_flaky", tenant="default",
                  status="succeeded") == 1
    assert _value(samples, "agentq_jobs_ended_total", type="obs_fails", tenant="default",
                  status="failed") == 1
    buckets = [s for s in samples["agentq_job_run_seconds_bucket"]
               if s.labels["type"] == "obs_flaky"]
    counts = [s.value for s in sorted(buckets, key=lambda s: float(s.labels["le"]))]
    assert counts == sorted(counts)  # cumulative


def _dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    for var in board["templating"]["list"]:
        if var["type"] == "query":
            q = var["query"]
            queries.append(q["query"] if isinstance(q, dict) else q)
    return queries


def _alert_queries() -> list[str]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


def test_the_dashboard_and_the_alert_rules_have_the_panels_and_alerts_operators_need() -> None:
    board = json.loads(DASHBOARD.read_text())
    titles = " | ".join(p["title"] for p in board["panels"]).lower()
    for wanted in ("throughput", "queue wait", "run time", "failures by error type",
                   "queue depth", "workers"):
        assert wanted in titles, titles
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    alerts = {r["alert"]: r for g in yaml.safe_load(ALERTS.read_text())["groups"]
              for r in g["rules"]}
    assert {"AgentqNoWorkers", "AgentqDeadListGrowing", "AgentqQueueWaitHigh"} <= set(alerts)
    assert "agentq_job_wait_seconds_bucket" in alerts["AgentqQueueWaitHigh"]["expr"]
    for rule in alerts.values():
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]


async def test_every_metric_the_dashboard_and_the_alerts_query_is_on_metrics(
        api: httpx.AsyncClient, worker: Worker) -> None:
    samples = await _metrics_after_some_jobs(api)
    queries = [(DASHBOARD.name, q) for q in _dashboard_queries()] + [
        (ALERTS.name, q) for q in _alert_queries()]
    assert len(queries) > 10
    missing = []
    for source, query in queries:
        assert query.count("(") == query.count(")") and query.count("{") == query.count("}"), (
            source, query)
        names = _METRIC.findall(query)
        assert names, f"{source}: a query without an agentq metric: {query}"
        missing += [(source, n) for n in names if n not in samples]
    assert not missing, f"not in /metrics: {missing}; it has {sorted(samples)}"


def test_a_misspelt_metric_would_be_caught() -> None:
    assert _METRIC.findall('max(agentq_wrokers) + rate(agentq_x_total{a="b"}[5m])') == [
        "agentq_wrokers", "agentq_x_total"]



async def test_a_cancel_of_a_queued_job_counts_as_an_end_of_its_tenant(
        api: httpx.AsyncClient, client) -> None:
    job = await client.enqueue("echo", {}, queue="nobody-listens", tenant="acme")
    await client.cancel(job.id)
    samples = _samples((await api.get("/metrics")).text)
    assert _value(samples, "agentq_jobs_ended_total", type="echo", tenant="acme",
                  status="cancelled") == 1
