"""``extensions.upstream``: how many upstream requests a response cost."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from strawberry.extensions import SchemaExtension

from ..trace import UpstreamTrace, current_trace


class UpstreamTracing(SchemaExtension):
    """Counts upstream HTTP requests per operation when tracing is enabled."""

    _trace: UpstreamTrace | None = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if not context.settings.trace_upstream:
            yield
            return
        self._trace = UpstreamTrace()
        token = current_trace.set(self._trace)
        try:
            yield
        finally:
            current_trace.reset(token)

    def get_results(self) -> dict[str, Any]:
        if self._trace is None:
            return {}
        return {"upstream": self._trace.as_extension()}
