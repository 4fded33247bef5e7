"""Prometheus metrics, in a registry of the app's own (never the process's default one,
so that several apps in one process count apart), served as text at ``/metrics``.

Every label has few values: operation names are bounded (``operation_label``), codes and
sources are the server's own, statuses are HTTP statuses or a word for a call that got
no answer (``timeout``, ``unavailable``, ``cancelled``, ``error``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from ..resilience import BreakerState

# Distinct operation names counted before the rest are counted as "other": a client
# that names every operation anew must not grow the scrape without bound.
MAX_OPERATIONS = 200
OPERATION_NAME_LENGTH = 64
_NOT_A_NAME = re.compile(r"[^A-Za-z0-9_]")

_BREAKER_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}
_BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)

BreakerStates = Callable[[], Iterable[tuple[str, BreakerState]]]


def operation_name(name: str | None) -> str:
    """An operation's name as metrics, spans and logs show it: a GraphQL name (truncated,
    restricted to name characters), or "anonymous"."""
    if not name:
        return "anonymous"
    return _NOT_A_NAME.sub("_", name[:OPERATION_NAME_LENGTH]) or "anonymous"


class _Live(Collector):
    """What is read at scrape time: breaker states, open event subscriptions."""

    def __init__(self) -> None:
        self.breakers: BreakerStates = lambda: ()
        self.subscribers: Callable[[], int] = lambda: 0
        self.redis: Callable[[], Mapping[str, bool]] = dict

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        breakers, subscribers, redis = self._families()
        for source, state in self.breakers():
            breakers.add_metric([source], _BREAKER_VALUES[state])
        subscribers.add_metric([], self.subscribers())
        for part, available in self.redis().items():
            redis.add_metric([part], 1 if available else 0)
        return breakers, subscribers, redis

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        redis = GaugeMetricFamily(
            "clubgraph_redis_available",
            "Each part kept in Redis (cache, events, rate_limit): 1 while Redis answers it, "
            "0 while it runs on local behaviour instead.",
            labels=["part"],
        )
        return (
            GaugeMetricFamily(
                "clubgraph_breaker_state",
                "Each source's circuit breaker: 0 closed, 1 half-open, 2 open.",
                labels=["source"],
            ),
            GaugeMetricFamily(
                "clubgraph_subscriptions_open",
                "Subscriptions to announced changes open in this process (event broker inboxes).",
            ),
            redis,
        )


class Metrics:
    """The app's metric families."""

    def __init__(self, *, max_operations: int = MAX_OPERATIONS) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.operations = Counter(
            "clubgraph_operations",
            "GraphQL operations run, by operation name and type.",
            ["operation", "type"],
            registry=registry,
        )
        self.operation_seconds = Histogram(
            "clubgraph_operation_duration_seconds",
            "Time from a GraphQL operation's start (parsing) to its result.",
            ["operation"],
            registry=registry,
        )
        self.errors = Counter(
            "clubgraph_errors",
            "Errors in GraphQL results, by extensions.code.",
            ["code"],
            registry=registry,
        )
        self.upstream_requests = Counter(
            "clubgraph_upstream_requests",
            "Calls to upstream APIs (retries included in one call), by source, method and "
            "final HTTP status (timeout, unavailable or error when none was answered).",
            ["source", "method", "status"],
            registry=registry,
        )
        self.upstream_seconds = Histogram(
            "clubgraph_upstream_request_duration_seconds",
            "Time an upstream call took, retries and their waits included.",
            ["source"],
            registry=registry,
        )
        self.loader_batch_size = Histogram(
            "clubgraph_loader_batch_size",
            "Keys per dataloader batch.",
            ["loader"],
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        self.cache_requests = Counter(
            "clubgraph_cache_requests",
            "Reads of the shared cache (records by key, reference data), hit or miss.",
            ["result"],
            registry=registry,
        )
        self.subscription_operations = Gauge(
            "clubgraph_subscription_operations",
            "GraphQL subscription operations in flight (WebSocket and server-sent events).",
            registry=registry,
        )
        self._live = _Live()
        registry.register(self._live)
        self._hits = self.cache_requests.labels("hit")
        self._misses = self.cache_requests.labels("miss")
        self._max_operations = max_operations
        self._operation_names: set[str] = set()

    def watch(
        self,
        breakers: BreakerStates,
        subscribers: Callable[[], int],
        redis: Callable[[], Mapping[str, bool]] = dict,
    ) -> None:
        """Read breaker states, open subscriptions and Redis's parts from these at each
        scrape."""
        self._live.breakers = breakers
        self._live.subscribers = subscribers
        self._live.redis = redis

    def operation_label(self, name: str) -> str:
        """``name`` (already an ``operation_name``), or "other" past the distinct names kept."""
        names = self._operation_names
        if name in names:
            return name
        if len(names) >= self._max_operations:
            return "other"
        names.add(name)
        return name

    def cache_lookups(self, hits: int, misses: int) -> None:
        if hits:
            self._hits.inc(hits)
        if misses:
            self._misses.inc(misses)

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The scrape's body and content type (OpenMetrics when the scraper asks for it)."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type
