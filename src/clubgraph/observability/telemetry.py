"""The hooks the server's parts call while it serves: one per upstream call, per loader
batch and per cache read, feeding traces (``tracing.py``) and metrics (``metrics.py``).

A part given no ``Telemetry`` (a script, the executor benchmark), or one with tracing
and metrics both off, calls none of these and pays nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import UpstreamTimeout, UpstreamUnavailable
from .metrics import BreakerStates, Metrics
from .tracing import Tracing, route_template

if TYPE_CHECKING:
    from prometheus_client import Histogram

    from ..settings import Settings

Batch = Callable[[list[Any]], Coroutine[Any, Any, list[Any]]]


class Telemetry:
    """Traces (when on) and metrics (unless off) of one app."""

    def __init__(self, tracing: Tracing | None = None, metrics: Metrics | None = None) -> None:
        self.tracing = tracing or Tracing()
        self.metrics = metrics
        self._batch_sizes: dict[str, Histogram] = {}

    @classmethod
    def from_settings(
        cls, settings: Settings, *, span_exporter: SpanExporter | None = None
    ) -> Telemetry:
        """What ``settings`` turn on; ``span_exporter`` (tests) traces whatever they say."""
        return cls(
            Tracing.from_settings(settings, span_exporter),
            Metrics() if settings.metrics_enabled else None,
        )

    @property
    def hooks(self) -> Telemetry | None:
        """What to give the parts that call these hooks: this, or None when nothing is
        traced or counted (they then call nothing at all)."""
        return self if self.tracing.tracer is not None or self.metrics is not None else None

    def watch(
        self,
        breakers: BreakerStates,
        subscribers: Callable[[], int],
        redis: Callable[[], Mapping[str, bool]] = dict,
    ) -> None:
        """Where each scrape reads breaker states, open subscriptions and Redis's parts."""
        if self.metrics is not None:
            self.metrics.watch(breakers, subscribers, redis)

    def routes(self) -> list[Route]:
        """``GET /metrics`` for the scraper (none when metrics are off)."""
        metrics = self.metrics
        if metrics is None:
            return []

        async def scrape(request: Request) -> Response:
            body, content_type = metrics.render(request.headers.get("accept"))
            return Response(body, media_type=content_type)

        return [Route("/metrics", scrape, methods=["GET"])]

    def upstream_call(
        self, source: str, method: str, path: str, base_url: str, route: str | None = None
    ) -> UpstreamCall:
        """One upstream call starting now; ``end`` it."""
        return UpstreamCall(self, source, method, path, base_url, route)

    def loader_batch(self, name: str, batch: Batch) -> Batch:
        """``batch`` (a dataloader's batch function) measured and traced as ``name``."""
        tracer = self.tracing.tracer
        sizes = None
        if self.metrics is not None:
            sizes = self._batch_sizes.get(name)
            if sizes is None:
                sizes = self._batch_sizes[name] = self.metrics.loader_batch_size.labels(name)

        async def observed(keys: list[Any]) -> list[Any]:
            if sizes is not None:
                sizes.observe(len(keys))
            if tracer is None:
                return await batch(keys)
            attributes: dict[str, str | int] = {
                "clubgraph.loader": name,
                "clubgraph.loader.batch_size": len(keys),
            }
            # Exceptions are not recorded: their messages may quote an upstream's answer.
            with tracer.start_as_current_span(
                "loader.batch", attributes=attributes, record_exception=False
            ):
                return await batch(keys)

        return observed

    def cache_lookups(self, hits: int, misses: int) -> None:
        """Records or reference data read from the shared cache, found or not."""
        if self.metrics is not None:
            self.metrics.cache_lookups(hits, misses)

    async def close(self) -> None:
        await self.tracing.close()


class UpstreamCall:
    """One call to an upstream: its ``upstream.request`` span (the current span while it
    runs) and its metrics. ``UpstreamHTTP`` sets ``status`` and ``retries`` as it goes."""

    __slots__ = (
        "_method",
        "_source",
        "_span",
        "_started",
        "_telemetry",
        "_token",
        "retries",
        "status",
    )

    def __init__(
        self,
        telemetry: Telemetry,
        source: str,
        method: str,
        path: str,
        base_url: str,
        route: str | None,
    ) -> None:
        self._telemetry = telemetry
        self._source = source
        self._method = method
        # The last answer's HTTP status (None: no answer yet, or the last try got none).
        self.status: int | None = None
        self.retries = 0
        self._span: trace.Span | None = None
        self._token: object = None
        tracer = telemetry.tracing.tracer
        if tracer is not None:
            where = urlsplit(base_url)
            attributes: dict[str, str | int] = {
                "clubgraph.source": source,
                "http.request.method": method,
                "url.template": route or route_template(path),
                "server.address": where.hostname or "",
            }
            if where.port is not None:
                attributes["server.port"] = where.port
            self._span = tracer.start_span(
                "upstream.request", kind=SpanKind.CLIENT, attributes=attributes
            )
            # A token fetched for this call is a call of its own, under this one.
            self._token = otel_context.attach(trace.set_span_in_context(self._span))
        self._started = time.perf_counter()

    def inject(self, headers: dict[str, str]) -> None:
        """Add ``traceparent`` and ``tracestate`` for this call to its headers."""
        if self._span is not None:
            self._telemetry.tracing.inject(headers, self._span)

    def end(self, error: BaseException | None = None) -> None:
        """The call is over: it returned, or raised ``error``."""
        elapsed = time.perf_counter() - self._started
        metrics = self._telemetry.metrics
        if metrics is not None:
            status = str(self.status) if self.status is not None else _failure(error)
            metrics.upstream_requests.labels(self._source, self._method, status).inc()
            metrics.upstream_seconds.labels(self._source).observe(elapsed)
        span = self._span
        if span is None:
            return
        if self.status is not None:
            span.set_attribute("http.response.status_code", self.status)
        span.set_attribute("http.request.resend_count", self.retries)
        if error is not None or (self.status is not None and self.status >= 400):
            # The error's kind, never its message (which may quote the upstream's body).
            kind = type(error).__name__ if error is not None else str(self.status)
            span.set_attribute("error.type", kind)
            span.set_status(Status(StatusCode.ERROR))
        otel_context.detach(self._token)  # type: ignore[arg-type]
        span.end()


def _failure(error: BaseException | None) -> str:
    """The status label of a call that got no answer."""
    if isinstance(error, UpstreamTimeout):
        return "timeout"
    if isinstance(error, UpstreamUnavailable):
        return "unavailable"
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    return "error"
