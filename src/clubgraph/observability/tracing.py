"""OpenTelemetry traces: one tracer provider per app, built from settings, off by default.

Off, there is no provider and no tracer: the code that would make spans checks for a
tracer and does nothing else, so no span object is ever made. On, spans are exported in
batches (to an OTLP/HTTP collector or to the console), and the W3C ``traceparent`` and
``tracestate`` headers carry a trace in from a caller and out to every upstream.

Nothing here touches OpenTelemetry's global provider or propagator: several apps in one
process (the tests) each trace on their own.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.context import Context as TraceContext
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from ..settings import Settings

EXPORTERS = ("none", "console", "otlp")
DEFAULT_ENDPOINT = "http://localhost:4318/v1/traces"


class Tracing:
    """The app's tracer, or none at all (``tracer is None``: tracing is off)."""

    def __init__(self, provider: TracerProvider | None = None) -> None:
        self.provider = provider
        self.tracer: trace.Tracer | None = (
            None if provider is None else provider.get_tracer("clubgraph")
        )
        self._propagator = TraceContextTextMapPropagator()

    @classmethod
    def from_settings(cls, settings: Settings, exporter: SpanExporter | None = None) -> Tracing:
        """Tracing as ``settings`` ask for it; ``exporter`` (a test's in-memory one) turns it
        on whatever they say, each span exported as it ends."""
        processor: SpanProcessor
        if exporter is not None:
            processor = SimpleSpanProcessor(exporter)
        elif settings.otel_exporter == "otlp":
            # Imported only when used: the exporter pulls in protobuf and requests.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otel_endpoint))
        elif settings.otel_exporter == "console":
            processor = BatchSpanProcessor(ConsoleSpanExporter())
        else:
            return cls()
        resource = Resource.create({"service.name": settings.otel_service_name})
        # The app's lifespan shuts it down; an exit hook would keep every provider alive.
        provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        provider.add_span_processor(processor)
        return cls(provider)

    def extract(self, headers: Mapping[str, str] | None) -> TraceContext | None:
        """The trace a caller's ``traceparent`` continues (None: a trace of its own)."""
        if headers is None or headers.get("traceparent") is None:
            return None
        return self._propagator.extract(headers)

    def inject(self, headers: MutableMapping[str, str], span: trace.Span) -> None:
        """Add ``traceparent`` (and ``tracestate``) naming ``span`` to outgoing headers."""
        self._propagator.inject(headers, context=trace.set_span_in_context(span))

    async def close(self) -> None:
        """Export what is left and stop (off the event loop: an exporter may block)."""
        if self.provider is not None:
            await asyncio.to_thread(self.provider.shutdown)


# Path segments that name something rather than identify it: words (``invoices``,
# ``subscription_plans``, ``reportWithCount``) and API versions (``v5``).
_WORD = re.compile(r"[A-Za-z]+(?:[_:-][A-Za-z]+)*|v\d{1,2}")
_HEX = re.compile(r"[0-9a-fA-F]{8,}")


def route_template(path: str) -> str:
    """``path`` with every id-like segment replaced by a placeholder named after the
    segment before it: ``/tenant/101/clients/7`` is ``/tenant/{tenant_id}/clients/{client_id}``.

    Spans name routes, never records: a segment with a digit, a long hex string, or any
    character a route word does not have is an id; the query string is dropped.
    """
    path = path.split("?", 1)[0].split("#", 1)[0]
    out: list[str] = []
    previous: str | None = None
    for segment in path.split("/"):
        if not segment or (_WORD.fullmatch(segment) and not _HEX.fullmatch(segment)):
            out.append(segment)
            previous = segment or None
            continue
        out.append(f"{{{_singular(previous)}_id}}" if previous else "{id}")
        previous = None
    return "/".join(out)


def _singular(word: str) -> str:
    word = re.sub(r"[^A-Za-z0-9]+", "_", word).strip("_").lower()
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us")):
        return word[:-1]
    return word
