"""Traces across the queue (CONTRACT §9): a job's trace context travels in its envelope.

`POST /jobs` (or any producer that enqueues inside a span) writes the W3C `traceparent`
of its span into the envelope; the worker continues that trace with a span for the queue
wait, one per attempt, one per `ctx.step` and one per model call. Retries, recoveries and
requeues copy the envelope's fields, and `Client.retry` rebuilds the envelope from the
record, which keeps `traceparent` too: every attempt of a job lands in one trace.

Only `opentelemetry-api` is needed here. Without a configured SDK every tracer is a
no-op and `enabled()` is False, so the worker skips its spans altogether.
`configure(service)` installs the SDK's TracerProvider when `OTEL_TRACES_EXPORTER` names
an exporter and the SDK is installed (`pip install 'agentq[otel]'`); the API and the
worker call it where they start and call what it returns when they stop (spans flushed).
The SDK reads the rest of the standard variables itself: `OTEL_SERVICE_NAME`,
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, `OTEL_EXPORTER_OTLP_ENDPOINT`, ...
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger("agentq.tracing")

TRACER_NAME = "agentq"
_propagator = TraceContextTextMapPropagator()
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
_NOOP_PROVIDERS = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
_configured = False


def enabled() -> bool:
    """True when a real TracerProvider is installed (spans are recorded somewhere)."""
    return not isinstance(trace.get_tracer_provider(), _NOOP_PROVIDERS)


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def span(name: str, attributes: dict[str, Any] | None = None,
         kind: trace.SpanKind = trace.SpanKind.INTERNAL,
         ) -> contextlib.AbstractContextManager[trace.Span | None]:
    """A child span of the current one, current inside the block; nothing when disabled."""
    if not enabled():
        return contextlib.nullcontext()
    return tracer().start_as_current_span(name, kind=kind, attributes=attributes)


def current_traceparent() -> str | None:
    """The `traceparent` of the current span, or None when there is no (valid) span."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def valid_traceparent(text: str | None) -> str | None:
    """`text` when it reads as a W3C traceparent (lower-case hex fields), else None."""
    if text and len(text) <= 512 and _TRACEPARENT.match(text):
        return text
    return None


def context_of(traceparent: str | None) -> Context | None:
    """The trace context a `traceparent` continues (None: start a new trace)."""
    if not traceparent:
        return None
    return _propagator.extract({"traceparent": traceparent})


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id (32 hex digits) of a `traceparent`, for log lines."""
    m = _TRACEPARENT.match(traceparent) if traceparent else None
    return m.group(1) if m else None


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


@dataclass
class Enqueueing:
    """What `enqueue_span` yields: the traceparent to give the job, and its span."""

    traceparent: str | None
    span: trace.Span | None = None

    def job_id(self, job_id: str) -> None:
        if self.span is not None:
            self.span.set_attribute("job.id", job_id)


@contextlib.contextmanager
def enqueue_span(type: str, queue: str, incoming: str | None) -> Iterator[Enqueueing]:
    """A PRODUCER span for enqueueing one job, whose context the job's envelope carries.

    It is a child of the current span (the web framework's request span, when it made
    one), else it continues the caller's `traceparent` (`incoming`). With tracing off,
    the job keeps the caller's traceparent, when it is one, so that its logs name it.
    """
    if not enabled():
        yield Enqueueing(valid_traceparent(incoming))
        return
    in_request = trace.get_current_span().get_span_context().is_valid
    parent = None if in_request else context_of(valid_traceparent(incoming))
    attributes = {"job.type": type, "job.queue": queue, "messaging.system": "agentq",
                  "messaging.operation.type": "send", "messaging.destination.name": queue}
    with tracer().start_as_current_span(f"enqueue {type}", context=parent,
                                        kind=trace.SpanKind.PRODUCER,
                                        attributes=attributes) as span:
        yield Enqueueing(current_traceparent(), span)


# -- the SDK, where a process starts ------------------------------------------------


def _exporter_names() -> list[str]:
    names = [n.strip() for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",")]
    return [n for n in names if n and n != "none"]


def _load_exporter(name: str) -> Any:
    """The span exporter registered under `name` (`console`, `otlp`, `zipkin`, ...).

    `otlp` is the exporter of the protocol `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL` names
    (http/protobuf unless it says grpc), whichever OTLP package is installed.
    """
    candidates = [name]
    if name == "otlp":
        protocol = (os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                    or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf")
        candidates = ["otlp_proto_grpc" if protocol == "grpc" else "otlp_proto_http", "otlp"]
    registered = {ep.name: ep for ep in entry_points(group="opentelemetry_traces_exporter")}
    for candidate in candidates:
        if candidate in registered:
            return registered[candidate].load()()
    raise LookupError(f"no span exporter {name!r} is installed")


def configure(default_service_name: str) -> Callable[[], None] | None:
    """Install the SDK's TracerProvider when `OTEL_TRACES_EXPORTER` asks for one.

    Returns the function that flushes and stops it (call it when the process stops), or
    None when tracing stays off: no exporter named, `OTEL_SDK_DISABLED=true`, the SDK not
    installed, or a provider installed already in this process.
    """
    global _configured
    names = _exporter_names()
    if not names or _configured or enabled():
        return None
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    try:
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("OTEL_TRACES_EXPORTER is set but the OpenTelemetry SDK is not installed "
                    "(pip install 'agentq[otel]'); tracing stays off")
        return None
    exporters = []
    for name in names:
        try:
            exporters.append(_load_exporter(name))
        except Exception as exc:  # a missing or broken exporter must not stop the process
            log.warning("tracing: cannot use exporter %r (%s)", name, exc)
    if not exporters:
        return None
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: default_service_name}))
    provider = TracerProvider(resource=resource)
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured = True
    log.info("tracing on: service %s, exporter(s) %s",
             resource.attributes.get(SERVICE_NAME), ",".join(names))

    def shutdown() -> None:
        provider.shutdown()  # flushes what the batch processors still hold

    return shutdown
