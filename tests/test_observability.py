"""What clubgraph tells about itself: Prometheus metrics at /metrics, OpenTelemetry spans
(caught by an in-memory exporter) with the trace carried to the upstreams, and JSON log
lines that carry the request's id, operation and caller and no secret.

Each test runs a clubgraph server of its own over the shared sandbox, so its metrics and
spans are its own.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from clubgraph import ids
from clubgraph.app import create_app
from clubgraph.domain import EntityType, Key, Source
from clubgraph.identity import Role, mint
from clubgraph.observability import Telemetry
from clubgraph.observability.logs import Redact, install, redact
from clubgraph.observability.metrics import Metrics, operation_name
from clubgraph.observability.tracing import route_template
from clubgraph.sandbox.runner import RunningSandbox
from clubgraph.settings import Settings, SettingsError
from support import serve

INVOICE_ID = ids.encode(Key(EntityType.INVOICE, Source.TIMETAP, "50101", "810467"))
INVOICE_PATH = "^/invoices/810467$"
ONE_INVOICE = "query OneInvoice($id: ID!) { invoice(id: $id) { number } }"
BROKEN = 'query Broken { invoice(id: "not-a-global-id") { number } }'
SECRET = "observability-test-secret-of-32-bytes!"
EMAIL = "aria.dejong0@example.net"


@pytest.fixture
async def sandbox_clean(sandbox: RunningSandbox) -> AsyncIterator[RunningSandbox]:
    """The shared sandbox, its faults and request logs cleared before and after."""

    async def clear() -> None:
        async with aiohttp.ClientSession() as http:
            for url in sandbox.urls.values():
                await http.delete(url + "/__sandbox/faults")
                await http.delete(url + "/__sandbox/requests")

    await clear()
    yield sandbox
    await clear()


class Server:
    """A clubgraph server on loopback, and a client that posts operations to it."""

    def __init__(self, url: str, sandbox: RunningSandbox, http: aiohttp.ClientSession) -> None:
        self.url = url
        self.sandbox = sandbox
        self.http = http

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> tuple[dict[str, Any], Mapping[str, str]]:
        payload = {"query": query, "variables": variables or {}}
        async with self.http.post(self.url + "/graphql", json=payload, headers=headers) as r:
            assert r.status == 200, await r.text()
            return await r.json(), r.headers

    async def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of /metrics by name and labels."""
        async with self.http.get(self.url + "/metrics") as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain")
            text = await r.text()
        samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
        return samples

    async def fault(self, source: str, **spec: Any) -> None:
        async with self.http.post(self.sandbox.urls[source] + "/__sandbox/faults", json=spec) as r:
            assert r.status == 204

    async def upstream_requests(self, source: str) -> list[dict[str, Any]]:
        async with self.http.get(self.sandbox.urls[source] + "/__sandbox/requests") as r:
            entries: list[dict[str, Any]] = await r.json()
            return entries


@asynccontextmanager
async def server(
    sandbox: RunningSandbox, exporter: InMemorySpanExporter | None = None, **overrides: Any
) -> AsyncIterator[Server]:
    settings = Settings(
        **{
            "sources": sandbox.source_settings(),
            "mode": "sandbox",
            "retry_backoff_s": 0.01,
            **overrides,
        }
    )
    telemetry = Telemetry.from_settings(settings, span_exporter=exporter)
    uvicorn, task, url = await serve(create_app(settings, telemetry=telemetry))
    try:
        async with aiohttp.ClientSession() as http:
            yield Server(url, sandbox, http)
    finally:
        uvicorn.should_exit = True
        await task


def labels(**pairs: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(pairs.items()))


# --- metrics ---------------------------------------------------------------------------


async def test_metrics_count_operations_errors_upstream_calls_batches_and_breakers(
    sandbox_clean: RunningSandbox,
) -> None:
    async with server(sandbox_clean) as graph:
        body, _ = await graph.post(ONE_INVOICE, {"id": INVOICE_ID})
        assert body == {"data": {"invoice": {"number": "50101-00467"}}}
        body, _ = await graph.post(BROKEN)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
        samples = await graph.metrics()
        async with graph.http.get(graph.url + "/metrics") as r:
            text = await r.text()

    operations = {
        key[1]: value for key, value in samples.items() if key[0] == "clubgraph_operations_total"
    }
    assert operations == {
        labels(operation="OneInvoice", type="query"): 1.0,
        labels(operation="Broken", type="query"): 1.0,
    }
    assert (
        samples["clubgraph_operation_duration_seconds_count", labels(operation="OneInvoice")] == 1
    )
    assert samples["clubgraph_operation_duration_seconds_sum", labels(operation="OneInvoice")] > 0
    errors = {k[1]: v for k, v in samples.items() if k[0] == "clubgraph_errors_total"}
    assert errors == {labels(code="BAD_USER_INPUT"): 1.0}
    # The invoice (and the session token TimeTap asks for first), each answered 200.
    timetap_ok = labels(source="timetap", method="GET", status="200")
    assert samples["clubgraph_upstream_requests_total", timetap_ok] >= 1
    calls = sum(
        v
        for k, v in samples.items()
        if k[0] == "clubgraph_upstream_requests_total" and ("source", "timetap") in k[1]
    )
    assert (
        samples["clubgraph_upstream_request_duration_seconds_count", labels(source="timetap")]
        == calls
    )
    assert samples["clubgraph_loader_batch_size_count", labels(loader="invoice")] == 1
    assert samples["clubgraph_loader_batch_size_sum", labels(loader="invoice")] == 1
    # Every breaker closed; nothing subscribed; the cache off (read neither way).
    for source in ("fitnessforce", "timetap", "clubcollect", "tight"):
        assert samples["clubgraph_breaker_state", labels(source=source)] == 0
    assert samples["clubgraph_subscriptions_open", ()] == 0
    assert samples["clubgraph_subscription_operations", ()] == 0
    assert samples["clubgraph_cache_requests_total", labels(result="hit")] == 0
    assert samples["clubgraph_cache_requests_total", labels(result="miss")] == 0
    # Names, never the documents or the ids they asked for.
    for asked in ("invoice(id", "810467", "not-a-global-id"):
        assert asked not in text


async def test_metrics_show_cache_hits_and_an_open_breaker(sandbox_clean: RunningSandbox) -> None:
    async with server(sandbox_clean, cache_enabled=True, breaker_failures=1, retries=0) as graph:
        for _ in range(2):
            body, _ = await graph.post(ONE_INVOICE, {"id": INVOICE_ID})
            assert body["data"]["invoice"]["number"] == "50101-00467"
        tight_invoice = ids.encode(Key(EntityType.INVOICE, Source.TIGHT, "7001", "1123106100"))
        await graph.fault("tight", path="/v5/invoicing/invoices/", status=503)
        body, _ = await graph.post(ONE_INVOICE, {"id": tight_invoice})
        assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
        samples = await graph.metrics()
    assert samples["clubgraph_cache_requests_total", labels(result="miss")] == 2
    assert samples["clubgraph_cache_requests_total", labels(result="hit")] == 1
    assert samples["clubgraph_breaker_state", labels(source="tight")] == 2
    assert samples["clubgraph_breaker_state", labels(source="timetap")] == 0
    assert (
        samples[
            "clubgraph_upstream_requests_total", labels(source="tight", method="GET", status="503")
        ]
        == 1
    )
    assert samples["clubgraph_errors_total", labels(code="UPSTREAM_UNAVAILABLE")] == 1


async def test_metrics_show_subscriptions_while_they_are_open(
    sandbox_clean: RunningSandbox,
) -> None:
    async def gauges() -> tuple[float, float]:
        samples = await graph.metrics()
        return (
            samples["clubgraph_subscription_operations", ()],
            samples["clubgraph_subscriptions_open", ()],
        )

    async def until(wanted: tuple[float, float]) -> None:
        for _ in range(200):
            if await gauges() == wanted:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{await gauges()} != {wanted}")

    payload = {"query": "subscription Changes { invoiceChanged { change } }"}
    async with server(sandbox_clean) as graph:
        async with graph.http.post(
            graph.url + "/graphql", json=payload, headers={"Accept": "text/event-stream"}
        ) as stream:
            assert stream.status == 200
            # One subscription operation, reading announced changes through one inbox.
            await until((1, 1))
        await until((0, 0))
        samples = await graph.metrics()
    assert (
        samples["clubgraph_operations_total", labels(operation="Changes", type="subscription")] == 1
    )


async def test_metrics_can_be_turned_off(sandbox_clean: RunningSandbox) -> None:
    async with (
        server(sandbox_clean, metrics_enabled=False) as graph,
        graph.http.get(graph.url + "/metrics") as r,
    ):
        assert r.status == 404


def test_operation_names_are_bounded() -> None:
    assert operation_name(None) == "anonymous"
    assert operation_name("Dashboard") == "Dashboard"
    assert operation_name("x" * 200) == "x" * 64
    assert operation_name("a-b c{}") == "a_b_c__"
    metrics = Metrics(max_operations=2)
    assert [metrics.operation_label(n) for n in ("A", "B", "C", "A")] == ["A", "B", "other", "A"]


def test_settings_choose_the_exporter_metrics_and_log_format() -> None:
    defaults = Settings.from_env({})
    assert (defaults.otel_exporter, defaults.metrics_enabled, defaults.log_format) == (
        "none",
        True,
        "text",
    )
    assert defaults.otel_endpoint == "http://localhost:4318/v1/traces"
    assert defaults.otel_service_name == "clubgraph"
    chosen = Settings.from_env(
        {
            "CLUBGRAPH_OTEL_EXPORTER": "otlp",
            "CLUBGRAPH_OTEL_ENDPOINT": "https://collector.example:4318/v1/traces",
            "CLUBGRAPH_OTEL_SERVICE_NAME": "clubgraph-eu",
            "CLUBGRAPH_METRICS": "0",
            "CLUBGRAPH_LOG_FORMAT": "json",
        }
    )
    assert (chosen.otel_exporter, chosen.otel_service_name) == ("otlp", "clubgraph-eu")
    assert chosen.otel_endpoint == "https://collector.example:4318/v1/traces"
    assert (chosen.metrics_enabled, chosen.log_format) == (False, "json")
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(
            {
                "CLUBGRAPH_OTEL_EXPORTER": "jaeger",
                "CLUBGRAPH_OTEL_ENDPOINT": "collector:4318",
                "CLUBGRAPH_LOG_FORMAT": "xml",
            }
        )
    assert len(refused.value.problems) == 3


# --- traces ----------------------------------------------------------------------------

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


async def test_spans_follow_an_operation_through_its_loader_batch_to_the_upstream(
    sandbox_clean: RunningSandbox,
) -> None:
    exporter = InMemorySpanExporter()
    async with server(sandbox_clean, exporter) as graph:
        # The first try is answered 503: the call is retried, in the same span.
        await graph.fault("timetap", path=INVOICE_PATH, status=503, times=1)
        body, headers = await graph.post(
            ONE_INVOICE,
            {"id": INVOICE_ID},
            traceparent=f"00-{CALLER_TRACE}-{CALLER_SPAN}-01",
        )
        assert body == {"data": {"invoice": {"number": "50101-00467"}}}
        received = [
            r for r in await graph.upstream_requests("timetap") if r["path"] == "/invoices/810467"
        ]
    spans = exporter.get_finished_spans()
    by_name: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)

    (operation,) = by_name["graphql.operation"]
    assert operation.context is not None
    assert operation.parent is not None
    # The caller's trace goes on.
    assert _hex(operation.context.trace_id, 32) == CALLER_TRACE
    assert _hex(operation.parent.span_id, 16) == CALLER_SPAN
    assert dict(operation.attributes or {}) == {
        "graphql.operation.name": "OneInvoice",
        "graphql.operation.type": "query",
        "graphql.errors.count": 0,
        "clubgraph.request_id": headers["X-Request-ID"],
    }

    (batch,) = [s for s in by_name["loader.batch"] if s.attributes["clubgraph.loader"] == "invoice"]
    assert batch.attributes["clubgraph.loader.batch_size"] == 1
    assert batch.parent is not None
    assert batch.parent.span_id == operation.context.span_id

    (call,) = [
        s
        for s in by_name["upstream.request"]
        if s.attributes["url.template"] == "/invoices/{invoice_id}"
    ]
    assert {k: v for k, v in (call.attributes or {}).items() if k != "server.port"} == {
        "clubgraph.source": "timetap",
        "http.request.method": "GET",
        "url.template": "/invoices/{invoice_id}",
        "server.address": "127.0.0.1",
        "http.response.status_code": 200,
        "http.request.resend_count": 1,
    }
    assert call.parent is not None
    assert call.parent.span_id == batch.context.span_id
    assert call.context.trace_id == operation.context.trace_id
    # Both tries carried the call's span as their traceparent.
    traceparent = f"00-{CALLER_TRACE}-{_hex(call.context.span_id, 16)}-01"
    assert [(r["status"], r["traceparent"]) for r in received] == [
        (503, traceparent),
        (200, traceparent),
    ]
    # Every upstream span names a route, never an id or a query string.
    for span in by_name["upstream.request"]:
        template = str(span.attributes["url.template"])
        assert "?" not in template
        assert not re.search(r"/\d", template), template


async def test_without_an_exporter_no_span_is_made_and_no_traceparent_sent(
    sandbox_clean: RunningSandbox,
) -> None:
    async with server(sandbox_clean) as graph:
        body, _ = await graph.post(ONE_INVOICE, {"id": INVOICE_ID})
        assert "errors" not in body
        received = await graph.upstream_requests("timetap")
    assert received
    assert all(r["traceparent"] is None for r in received)


async def test_tracing_is_off_unless_an_exporter_is_chosen() -> None:
    off = Telemetry.from_settings(Settings())
    assert off.tracing.tracer is None
    assert off.hooks is off  # metrics still count
    assert Telemetry.from_settings(Settings(metrics_enabled=False)).hooks is None
    for exporter in ("console", "otlp"):
        # Nothing is exported (no span is made): the endpoint is never called.
        on = Telemetry.from_settings(
            Settings(otel_exporter=exporter, otel_endpoint="http://127.0.0.1:9/v1/traces")
        )
        assert on.tracing.tracer is not None
        await on.close()


def test_route_templates_name_routes_not_records() -> None:
    cases = {
        "/tenant/101/clients/10074/invoices/7101225": "/tenant/{tenant_id}/clients/{client_id}/invoices/{invoice_id}",
        "/tenant/101/invoices": "/tenant/{tenant_id}/invoices",
        "/v5/invoicing/invoices/62450cbd40f4f88d949e0568": "/v5/invoicing/invoices/{invoice_id}",
        "/api/v2/companies/deadbeefcafe/imports": "/api/v2/companies/{company_id}/imports",
        "/invoices/status/PAID?pageNumber=2": "/invoices/status/PAID",
        "/clients/ada@example.org": "/clients/{client_id}",
        "/123": "/{id}",
    }
    assert {path: route_template(path) for path in cases} == cases


# --- logs ------------------------------------------------------------------------------


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the root logger writes while the test runs (the app formats it)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


async def test_json_log_lines_carry_the_request_and_no_secret(
    sandbox_clean: RunningSandbox, log_lines: io.StringIO
) -> None:
    token = mint(SECRET, role=Role.STAFF, subject="staff-7", tenants=["*"])
    api_key = "tt-api-key-5f1d2c"
    # An upstream that quotes what it was sent: the email, an API key, the caller's token.
    quoted = f"no client {EMAIL} for apiKey={api_key}; Authorization: Bearer {token}"
    async with server(sandbox_clean, jwt_secret=SECRET, log_format="json") as graph:
        await graph.fault(
            "timetap",
            path=INVOICE_PATH,
            status=400,
            body={"errors": [{"errorCode": "INVALID_CLIENT", "errorMessage": quoted}]},
        )
        body, headers = await graph.post(
            ONE_INVOICE,
            {"id": INVOICE_ID},
            Authorization=f"Bearer {token}",
            **{"X-Request-ID": "req-4711"},
        )
        assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_VALIDATION"
        assert headers["X-Request-ID"] == "req-4711"
        # Not an id: replaced by one of the server's.
        _, headers = await graph.post("{ __typename }", **{"X-Request-ID": f"<{EMAIL}>"})
        assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])
        # Outside any request: a credential in a URL, a key, an email, a traceback.
        try:
            raise ValueError(f"password=hunter2 for {EMAIL}")
        except ValueError:
            logging.getLogger("clubgraph.test").exception(
                "calling %s with api_key=%s", "https://svc:pa55word@upstream.example/x", api_key
            )
    text = log_lines.getvalue()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    during = [line for line in lines if line["request_id"] == "req-4711"]
    assert during, text
    for line in during:
        assert (line["operation"], line["caller"]) == ("OneInvoice", "staff-7")
        assert {"time", "level", "logger", "message"} <= line.keys()
    assert any(
        "timetap GET" in line["message"] and "INVALID_CLIENT" in line["message"] for line in during
    )
    (outside,) = [line for line in lines if line["logger"] == "clubgraph.test"]
    assert outside["request_id"] is None
    assert outside["caller"] is None
    assert "ValueError" in outside["exc_info"]
    for secret in (token, token.split(".")[1], api_key, EMAIL, "hunter2", "pa55word", SECRET):
        assert secret not in text


def test_redaction_masks_credentials_and_emails_in_any_format() -> None:
    cases = {
        "Authorization: Bearer abc.def-ghi": "Authorization: [REDACTED]",
        "sent bearer abc123": "sent bearer [REDACTED]",
        'body {"apiKey": "k-1", "password": "p w", "client_secret": "s"}': (
            'body {"apiKey": [REDACTED], "password": [REDACTED], "client_secret": [REDACTED]}'
        ),
        "GET /sessionToken?apiKey=abc&timestamp=1": "GET /sessionToken?apiKey=[REDACTED]&timestamp=1",
        "refresh_token=xyz, max_tokens=5000": "refresh_token=[REDACTED], max_tokens=5000",
        "redis://:pw@cache:6379/0": "redis://:[REDACTED]@cache:6379/0",
        f"for {EMAIL}.": "for [REDACTED].",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln alone": "[REDACTED] alone",
        "TOO_MANY_TOKENS at 5000 tokens": "TOO_MANY_TOKENS at 5000 tokens",
    }
    assert {text: redact(text) for text in cases} == cases


def test_text_logs_are_redacted_too_and_installing_is_undone() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("clubgraph.test.text")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        undo = install("text", loggers=("clubgraph.test.text",))
        logger.warning("token=%s for %s", "t0k3n", EMAIL)
        undo()
        logger.warning("plain")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert stream.getvalue().splitlines() == [
        "WARNING token=[REDACTED] for [REDACTED]",
        "WARNING plain",
    ]
    assert handler.filters == []


def test_redaction_keeps_a_records_arguments_when_it_can() -> None:
    access = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s"',
        ("1.2.3.4", "GET", "/x?token=abc"),
        None,
    )
    assert Redact().filter(access)
    assert access.args == ("1.2.3.4", "GET", "/x?token=[REDACTED]")
    assert access.getMessage() == '1.2.3.4 - "GET /x?token=[REDACTED]"'
    # A key in the format and its value in the arguments: redacted as a whole.
    split = logging.LogRecord("clubgraph", logging.INFO, __file__, 1, "api_key=%s", ("k-1",), None)
    assert Redact().filter(split)
    assert (split.msg, split.args) == ("api_key=[REDACTED]", None)
