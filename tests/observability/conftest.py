"""Fixtures of the observability tests: spans recorded in memory, processes with a setting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from src.api.app import create_app
from src.api.settings import ApiSettings
from src.queue.settings import Settings
from src.worker import Worker, registry

from . import tasks  # noqa: F401  (registers the tasks, for the API and in-process workers)


class Spans:
    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.exporter = exporter

    def all(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.all() if s.name.startswith(prefix)]


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spans]:
    """The SDK with an in-memory exporter as this process's tracer provider, for one test.

    The global provider can be set once per process, so the test swaps the module global
    the API reads (and puts it back), as OpenTelemetry's own test helpers do.
    """
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    yield Spans(exporter)
    provider.shutdown()


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API in this process (its lifespan run), on the test's namespace."""
    app = create_app(ApiSettings(REDIS_URL=settings.redis_url,
                                 AGENTQ_NAMESPACE=settings.namespace))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://agentq.test", timeout=30) as http:
            yield http


@pytest.fixture
async def worker(settings: Settings) -> AsyncIterator[Worker]:
    """A worker running in this process, stopped at the end."""
    w = Worker(settings, registry, concurrency=2)
    run = asyncio.create_task(w.run())
    yield w
    w.request_stop()
    await asyncio.wait_for(run, 30)
