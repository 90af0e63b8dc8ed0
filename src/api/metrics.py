"""Prometheus metrics: HTTP requests by route and status, and queue state read at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from src.queue.histograms import Observed

disable_created_metrics()  # no `*_created` series: they double the output for no use here

_QUEUE_TOTALS = ("enqueued", "succeeded", "failed", "retried", "recovered", "cancelled")

#: the most tenants, and the most models, `/metrics` shows by name: those with the most
#: tokens; the rest are summed under "_other", so a crowd of tenants cannot swell a scrape
MAX_LLM_LABEL_VALUES = 20
OTHER = "_other"


class _QueueCollector(Collector):
    """Turns the latest `GET /queues` snapshot into metric families."""

    def __init__(self) -> None:
        self.snapshot: dict[str, Any] | None = None

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        up = GaugeMetricFamily("agentq_redis_up", "1 when Redis answered this scrape")
        up.add_metric([], 0 if snap is None else 1)
        yield up
        if snap is None:
            return
        queued = GaugeMetricFamily(
            "agentq_queue_queued", "Jobs waiting in a queue", labels=["queue"]
        )
        running = GaugeMetricFamily(
            "agentq_queue_running", "Jobs running from a queue", labels=["queue"]
        )
        totals = CounterMetricFamily(
            "agentq_queue_jobs",
            "Jobs per queue and outcome since the namespace was created",
            labels=["queue", "outcome"],
        )
        for q in snap.get("queues", []):
            queued.add_metric([q["name"]], q.get("queued", 0))
            running.add_metric([q["name"]], q.get("running", 0))
            for outcome in _QUEUE_TOTALS:
                totals.add_metric([q["name"], outcome], q.get(outcome, 0))
        yield queued
        yield running
        yield totals
        for name, doc in (
            ("scheduled", "Jobs waiting for a delay or a retry back-off"),
            ("waiting", "Jobs waiting for a signal (ctx.wait_for)"),
            ("dead", "Jobs in the dead-letter list"),
            ("workers", "Live workers"),
        ):
            family = GaugeMetricFamily(f"agentq_{name}", doc)
            family.add_metric([], snap.get(name, 0))
            yield family
        if "history_backlog" in snap:
            backlog = GaugeMetricFamily(
                "agentq_history_backlog",
                "Ended jobs waiting in Redis for the archiver to write them to the history",
            )
            backlog.add_metric([], snap["history_backlog"])
            yield backlog


class _ObservedCollector(Collector):
    """Run and wait time histograms per task type and failures by error type, as the
    workers count them in Redis (src/queue/histograms.py); present even while empty."""

    def __init__(self) -> None:
        self.observed: Observed | None = None

    def collect(self) -> Iterator[Metric]:
        observed = self.observed
        families = {
            "run": HistogramMetricFamily(
                "agentq_job_run_seconds", "Run time of an attempt, by task type", labels=["type"]),
            "wait": HistogramMetricFamily(
                "agentq_job_wait_seconds",
                "Queue wait of an attempt (enqueue or retry to start), by task type",
                labels=["type"]),
        }
        failures = CounterMetricFamily(
            "agentq_attempt_failures", "Attempts that failed, by task type and error type",
            labels=["type", "error_type"])
        if observed is not None:
            for (kind, type_), hist in sorted(observed.histograms.items()):
                buckets = [(floatToGoString(le), n) for le, n in hist.buckets]
                families[kind].add_metric([type_], buckets, hist.sum_s)
            for (type_, error_type), n in sorted(observed.failures.items()):
                failures.add_metric([type_, error_type], n)
        yield families["run"]
        yield families["wait"]
        yield failures
        yield _ended_family(observed.ended if observed is not None else {})
        yield from _llm_families(observed.llm if observed is not None else {})


def _ended_family(ended: dict[tuple[str, str, str], int]) -> Metric:
    """Jobs that ended, by task type, tenant (the busiest MAX_LLM_LABEL_VALUES, the rest
    folded into `_other`) and terminal status."""
    tenants: dict[str, int] = {}
    for (_, tenant, _), n in ended.items():
        tenants[tenant] = tenants.get(tenant, 0) + n
    shown = _top(tenants)
    folded: dict[tuple[str, str, str], int] = {}
    for (type_, tenant, status), n in ended.items():
        key = (type_, tenant if tenant in shown else OTHER, status)
        folded[key] = folded.get(key, 0) + n
    family = CounterMetricFamily(
        "agentq_jobs_ended", "Jobs that ended (a worker's outcome, or a cancel of a job not "
        "running), by task type, tenant and status", labels=["type", "tenant", "status"])
    for key, n in sorted(folded.items()):
        family.add_metric(list(key), n)
    return family


def _top(totals: dict[str, int]) -> set[str]:
    ranked = sorted(totals, key=lambda name: (-totals[name], name))
    return set(ranked[:MAX_LLM_LABEL_VALUES])


def _llm_families(llm: dict[tuple[str, str, str], list[int]]) -> Iterator[Metric]:
    """LLM tokens, calls and cost by task type, tenant and model (histograms.LLM_KINDS)."""
    tenants: dict[str, int] = {}
    models: dict[str, int] = {}
    for (_, tenant, model), counts in llm.items():
        tenants[tenant] = tenants.get(tenant, 0) + counts[0] + counts[1]
        models[model] = models.get(model, 0) + counts[0] + counts[1]
    shown_tenants, shown_models = _top(tenants), _top(models)
    folded: dict[tuple[str, str, str], list[int]] = {}
    for (type_, tenant, model), counts in llm.items():
        key = (type_, tenant if tenant in shown_tenants else OTHER,
               model if model in shown_models else OTHER)
        into = folded.setdefault(key, [0] * len(counts))
        for i, n in enumerate(counts):
            into[i] += n
    labels = ["type", "tenant", "model"]
    families = [
        CounterMetricFamily("agentq_llm_prompt_tokens", "LLM prompt tokens used by jobs",
                            labels=labels),
        CounterMetricFamily("agentq_llm_completion_tokens",
                            "LLM completion tokens used by jobs", labels=labels),
        CounterMetricFamily("agentq_llm_calls", "LLM calls made by jobs", labels=labels),
        CounterMetricFamily("agentq_llm_cost_usd",
                            "Cost of jobs' LLM calls in US dollars (AGENTQ_LLM_PRICES)",
                            labels=labels),
    ]
    for key, counts in sorted(folded.items()):
        for i, family in enumerate(families):
            family.add_metric(list(key), counts[i] / 1e9 if i == 3 else counts[i])
    yield from families


class ApiMetrics:
    """One registry per app, so several apps in one process do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "agentq_http_requests",
            "HTTP requests by method, route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "agentq_http_request_duration_seconds",
            "HTTP request latency by method and route",
            ["method", "route"],
            registry=self.registry,
            buckets=(
                0.001,
                0.0025,
                0.005,
                0.01,
                0.025,
                0.05,
                0.1,
                0.25,
                0.5,
                1,
                2.5,
                5,
                10,
                30,
                60,
            ),
        )
        self.sse_followers = Gauge(
            "agentq_sse_followers",
            "Open event streams (GET /jobs/{id}/events) of this API process",
            registry=self.registry,
        )
        self._queues = _QueueCollector()
        self.registry.register(self._queues)
        self._observed = _ObservedCollector()
        self.registry.register(self._observed)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        # The labelled children, found once per (method, route, status): `labels()` checks
        # and joins its arguments under a lock on every call.
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(method, route, str(status)),
                        self.latency.labels(method, route))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self, queues: dict[str, Any] | None) -> bytes:
        """The text exposition, with queue families from `queues` (None: Redis did not answer)."""
        self._queues.snapshot = queues
        self._observed.observed = (queues or {}).get("observed")
        return generate_latest(self.registry)
