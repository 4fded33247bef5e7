"""Counting upstream requests per GraphQL request (``CLUBGRAPH_TRACE_UPSTREAM``)."""

from __future__ import annotations

from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(slots=True)
class UpstreamTrace:
    """Upstream HTTP requests made on behalf of one GraphQL request."""

    by_source: Counter[str] = field(default_factory=Counter)

    def record(self, source: str) -> None:
        self.by_source[source] += 1

    def as_extension(self) -> dict[str, object]:
        return {"requests": sum(self.by_source.values()), "bySource": dict(self.by_source)}


# Set by the GraphQL layer for the duration of one request. Loader batches run in
# tasks scheduled from inside the request, so they inherit it.
current_trace: ContextVar[UpstreamTrace | None] = ContextVar("clubgraph_trace", default=None)
