"""Every GraphQL operation's span, metrics and log context (a schema extension)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from contextvars import Token
from typing import Any

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from strawberry.extensions import SchemaExtension

from . import logs
from .metrics import operation_name
from .telemetry import Telemetry

_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


class OperationTelemetry(SchemaExtension):
    """A ``graphql.operation`` span (continuing a caller's ``traceparent``), the operation
    and error metrics, and the operation's name and caller on every log line it causes.

    Register it first: it then sees the errors as the other extensions leave them, coded.
    """

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self._operation: tuple[str, str] | None = None
        self._operation_token: Token[str | None] | None = None
        self._subscription = False

    @classmethod
    def factory(cls, telemetry: Telemetry) -> Callable[[], OperationTelemetry]:
        return lambda: cls(telemetry)

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        context = self.execution_context.context
        principal = getattr(context, "principal", None)
        caller = logs.caller.set(getattr(principal, "subject", None) or "anonymous")
        span: trace.Span | None = None
        attached: object = None
        tracing = self.telemetry.tracing
        if tracing.tracer is not None:
            request = getattr(context, "request", None)
            parent = tracing.extract(getattr(request, "headers", None))
            span = tracing.tracer.start_span(
                "graphql.operation", context=parent, kind=SpanKind.SERVER
            )
            attached = otel_context.attach(trace.set_span_in_context(span))
        failed: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            failed = exc
            raise
        finally:
            try:
                self._finish(time.perf_counter() - started, span, failed)
            finally:
                if span is not None:
                    otel_context.detach(attached)  # type: ignore[arg-type]
                    span.end()
                if self._operation_token is not None:
                    logs.operation.reset(self._operation_token)
                logs.caller.reset(caller)

    def on_execute(self) -> Iterator[None]:
        # Parsed and validated by now: the operation's name holds for the lines it logs.
        name, kind = self._resolve()
        self._operation_token = logs.operation.set(name)
        if kind == "subscription" and self.telemetry.metrics is not None:
            self._subscription = True
            self.telemetry.metrics.subscription_operations.inc()
        yield

    def _resolve(self) -> tuple[str, str]:
        """The operation's bounded name and its type ("unknown" before it parsed)."""
        if self._operation is None:
            context = self.execution_context
            definition = _definition(context.graphql_document, context.operation_name)
            if definition is None:
                self._operation = ("anonymous", "unknown")
            else:
                name = definition.name.value if definition.name else None
                self._operation = (operation_name(name), definition.operation.value)
        return self._operation

    def _finish(
        self, elapsed: float, span: trace.Span | None, failed: BaseException | None
    ) -> None:
        name, kind = self._resolve()
        result = self.execution_context.result
        codes = [_code(e) for e in (result.errors or ())] if result is not None else []
        # A subscription its client ended, or a server stopping, is no error.
        if failed is not None and not isinstance(failed, GeneratorExit | asyncio.CancelledError):
            codes.append(_code(failed))
        metrics = self.telemetry.metrics
        if metrics is not None:
            label = metrics.operation_label(name)
            metrics.operations.labels(label, kind).inc()
            metrics.operation_seconds.labels(label).observe(elapsed)
            for code in codes:
                metrics.errors.labels(code).inc()
            if self._subscription:
                metrics.subscription_operations.dec()
        if span is not None:
            span.set_attribute("graphql.operation.name", name)
            span.set_attribute("graphql.operation.type", kind)
            span.set_attribute("graphql.errors.count", len(codes))
            rid = logs.request_id.get()
            if rid is not None:
                span.set_attribute("clubgraph.request_id", rid)
            if codes:
                span.set_status(Status(StatusCode.ERROR))


def _definition(document: DocumentNode | None, name: str | None) -> OperationDefinitionNode | None:
    """The operation a request runs: the one it names, or the document's only one."""
    if document is None:
        return None
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            name is None or (definition.name is not None and definition.name.value == name)
        ):
            return definition
    return None


def _code(error: BaseException) -> str:
    """An error's ``extensions.code`` as a metric label (an uncoded exception is internal)."""
    if not isinstance(error, GraphQLError):
        return "INTERNAL_SERVER_ERROR"
    code: Any = (error.extensions or {}).get("code")
    if code is None:
        return "UNKNOWN"
    return code if isinstance(code, str) and _CODE.fullmatch(code) else "OTHER"
