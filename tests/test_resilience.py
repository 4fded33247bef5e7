"""A slow or failing source stays bounded: timeouts, the request deadline, retries of reads
only, Retry-After, token refresh, and the circuit breaker, seen through real HTTP.

Every test runs its own clubgraph server (or client) with its own settings, so no breaker
state carries from one test to the next. Faults the sandbox cannot inject (a hang, a slow
answer, a Retry-After header) come from ``Upstream``: a small server that answers as told
or passes requests on to a sandbox server.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from clubgraph import ids, workloads
from clubgraph.domain import EntityType, Key, Source
from clubgraph.errors import (
    UpstreamNotFound,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamValidationError,
)
from clubgraph.http import UpstreamHTTP
from clubgraph.resilience import (
    BreakerState,
    CallPolicy,
    CircuitBreaker,
    backoff_delay,
    deadline,
    parse_retry_after,
)
from clubgraph.sandbox.runner import RunningSandbox
from clubgraph.settings import Settings, SourceSettings
from clubgraph.trace import UpstreamTrace, current_trace
from support import GraphServer, graph_server

TIMETAP_INVOICE = ids.encode(Key(EntityType.INVOICE, Source.TIMETAP, "50101", "810467"))
TIMETAP_INVOICE_PATH = "^/invoices/810467$"
# Reads by id: one upstream call each, so that tests can count them exactly.
INVOICE = "query($id: ID!) { invoice(id: $id) { number } }"
TIGHT_INVOICE = ids.encode(Key(EntityType.INVOICE, Source.TIGHT, "7001", "1123106100"))
TIGHT_INVOICE_PATH = "/v5/invoicing/invoices/1123106100"
FF_INVOICE = ids.encode(Key(EntityType.INVOICE, Source.FITNESSFORCE, "102", "10074/7101225"))
FF_INVOICE_PATH = "/tenant/102/clients/10074/invoices/7101225"
SOURCES = "{ sources { source healthy breakerState recentErrorRate } }"


# --- a scripted upstream ---------------------------------------------------------------


@dataclass
class Rule:
    """How to answer the next ``times`` requests whose path matches ``path``."""

    path: re.Pattern[str]
    times: int
    status: int | None = None
    headers: dict[str, str] | None = None
    delay: float = 0.0
    hang: bool = False


class Upstream:
    """An HTTP server that answers by its rules, and otherwise passes the request on to
    ``target`` (or, without one, answers 200 ``{"ok": true}``). It records every path."""

    def __init__(self, target: str | None = None) -> None:
        self.target = target
        self.rules: list[Rule] = []
        self.hits: list[str] = []
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self.url = ""

    def on(
        self,
        path: str,
        *,
        times: int = 1,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        hang: bool = False,
    ) -> None:
        self.rules.append(Rule(re.compile(path), times, status, headers, delay, hang))

    def count(self, path: str) -> int:
        return sum(1 for hit in self.hits if re.search(path, hit))

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._client = aiohttp.ClientSession()
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        self._release.set()  # hung handlers end now
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()

    def _rule(self, path: str) -> Rule | None:
        for rule in self.rules:
            if rule.times > 0 and rule.path.search(path):
                rule.times -= 1
                return rule
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        rule = self._rule(request.path)
        if rule is not None and (rule.hang or rule.delay):
            # Interrupted by stop(), so that a test's end does not wait for it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), 10 if rule.hang else rule.delay)
        if rule is not None and rule.status is not None:
            return web.json_response(
                {"error": "scripted"}, status=rule.status, headers=rule.headers
            )
        if self.target is None:
            return web.json_response({"ok": True})
        return await self._forward(request)

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._client is not None
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in ("host", "content-length", "transfer-encoding")
        }
        async with self._client.request(
            request.method,
            f"{self.target}{request.path_qs}",
            headers=headers,
            data=await request.read(),
        ) as resp:
            body = await resp.read()
            return web.Response(
                body=body, status=resp.status, content_type=resp.content_type or None
            )


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    server = Upstream()
    await server.start()
    yield server
    await server.stop()


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


def _settings(**kwargs: Any) -> Settings:
    """Settings that keep a test fast: short backoff, the rest as given."""
    return Settings(**{"mode": "sandbox", "retry_backoff_s": 0.01, **kwargs})


def _on(sandbox: RunningSandbox, *sources: str, **overrides: Any) -> tuple[SourceSettings, ...]:
    return tuple(
        SourceSettings(Source(name), sandbox.urls[name], None, **overrides) for name in sources
    )


async def _client(url: str, policy: CallPolicy) -> UpstreamHTTP:
    http = UpstreamHTTP("tight", url, policy=policy)
    await http.start()
    return http


async def _fault(graph: GraphServer, source: str, **spec: Any) -> None:
    async with graph.http.post(graph.sandbox.urls[source] + "/__sandbox/faults", json=spec) as r:
        assert r.status == 204


async def _calls(graph: GraphServer, source: str) -> list[tuple[str, str, int]]:
    return [
        (r["method"], r["path"], r["status"])
        for r in await graph.upstream_requests()
        if r["source"] == source
    ]


async def _readyz(graph: GraphServer) -> tuple[int, dict[str, Any]]:
    async with graph.http.get(graph.url + "/readyz") as resp:
        body: dict[str, Any] = await resp.json()
        return resp.status, body


async def _tight_source(graph: GraphServer) -> dict[str, Any]:
    data = await graph.data(SOURCES)
    [tight] = [s for s in data["sources"] if s["source"] == "TIGHT"]
    return tight


async def _elapsed(call: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    try:
        result: Any = await call()
    except Exception as exc:
        result = exc
    return time.perf_counter() - started, result


# --- the parts ---------------------------------------------------------------------------


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3", now=now) == 3.0
    assert (
        parse_retry_after(format_datetime(now + timedelta(seconds=2), usegmt=True), now=now) == 2.0
    )
    # A date already past means no wait; what cannot be read is no instruction at all.
    assert parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


def test_backoff_is_exponential_capped_and_jittered() -> None:
    top = [backoff_delay(n, 0.1, 2.0, rand=lambda: 1.0) for n in range(6)]
    assert top == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 2.0])
    assert backoff_delay(3, 0.1, 2.0, rand=lambda: 0.0) == 0.0
    assert all(0 <= backoff_delay(4, 0.1, 2.0) < 1.6 for _ in range(100))


def test_a_source_s_own_timeouts_override_the_global_ones() -> None:
    settings = Settings(connect_timeout_s=4.0, read_timeout_s=20.0, retries=3)
    own = SourceSettings(Source.TIGHT, "http://x", None, read_timeout_s=1.5)
    policy = CallPolicy.for_source(settings, own)
    assert (policy.connect_timeout_s, policy.read_timeout_s, policy.retries) == (4.0, 1.5, 3)
    assert policy.breaker is not None
    assert policy.breaker.state is BreakerState.CLOSED


# --- retries -----------------------------------------------------------------------------


async def test_reads_are_retried_on_overload_and_writes_are_not(upstream: Upstream) -> None:
    http = await _client(upstream.url, CallPolicy(retries=2, retry_backoff_s=0.01))
    try:
        upstream.on("^/read$", status=502)
        upstream.on("^/read$", status=504)
        assert await http.request("GET", "/read") == {"ok": True}
        assert upstream.count("^/read$") == 3

        upstream.on("^/write$", status=503)
        with pytest.raises(UpstreamUnavailable):
            await http.request("POST", "/write", json={"a": 1})
        assert upstream.count("^/write$") == 1

        # A read sent as a POST says so, and is retried like one.
        upstream.on("^/search$", status=503)
        assert await http.request("POST", "/search", json={}, idempotent=True) == {"ok": True}
        assert upstream.count("^/search$") == 2

        # 500 is a bug upstream, 404 an answer: neither is tried again.
        upstream.on("^/bug$", status=500)
        upstream.on("^/gone$", status=404)
        with pytest.raises(UpstreamUnavailable):
            await http.request("GET", "/bug")
        with pytest.raises(UpstreamNotFound):
            await http.request("GET", "/gone")
        assert (upstream.count("^/bug$"), upstream.count("^/gone$")) == (1, 1)
    finally:
        await http.close()


async def test_retry_after_is_waited_for_up_to_the_longest_wait(upstream: Upstream) -> None:
    http = await _client(
        upstream.url, CallPolicy(retries=2, retry_backoff_s=0.01, retry_max_delay_s=2.0)
    )
    try:
        upstream.on("^/busy$", status=503, headers={"Retry-After": "1"})
        elapsed, result = await _elapsed(lambda: http.request("GET", "/busy"))
        assert result == {"ok": True}
        assert upstream.count("^/busy$") == 2
        assert 1.0 <= elapsed < 1.6

        # Asked to wait longer than the policy allows: the error now, not a retry.
        upstream.on("^/limited$", status=429, headers={"Retry-After": "120"})
        elapsed, result = await _elapsed(lambda: http.request("GET", "/limited"))
        assert isinstance(result, UpstreamRateLimited)
        assert result.code == "UPSTREAM_RATE_LIMITED"
        assert upstream.count("^/limited$") == 1
        assert elapsed < 0.5

        later = format_datetime(datetime.now(UTC) + timedelta(minutes=5), usegmt=True)
        upstream.on("^/down$", status=503, headers={"Retry-After": later})
        elapsed, result = await _elapsed(lambda: http.request("GET", "/down"))
        assert isinstance(result, UpstreamUnavailable)
        assert upstream.count("^/down$") == 1
        assert elapsed < 0.5
    finally:
        await http.close()


async def test_connection_errors_are_retried_and_count_against_the_breaker() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    breaker = CircuitBreaker("tight", failures=3, reset_s=30)
    http = await _client(dead, CallPolicy(retries=2, retry_backoff_s=0.01, breaker=breaker))
    trace = UpstreamTrace()
    token = current_trace.set(trace)
    try:
        with pytest.raises(UpstreamUnavailable, match="unreachable"):
            await http.request("GET", "/anything")
    finally:
        current_trace.reset(token)
        await http.close()
    assert trace.by_source["tight"] == 3  # one call, three attempts
    assert breaker.state is BreakerState.OPEN
    assert breaker.recent_error_rate == 1.0


async def test_reads_through_the_graph_are_retried_and_writes_sent_once(
    sandbox_clean: RunningSandbox,
) -> None:
    async with graph_server(_settings(sources=_on(sandbox_clean, "tight")), sandbox_clean) as g:
        client = await g.data("{ clients(first: 1, source: [TIGHT]) { nodes { id } } }")
        await g.clear_upstream_requests()
        await _fault(g, "tight", method="GET", path=f"^{TIGHT_INVOICE_PATH}$", status=503)
        await g.data(INVOICE, {"id": TIGHT_INVOICE})
        assert await _calls(g, "tight") == [
            ("GET", TIGHT_INVOICE_PATH, 503),
            ("GET", TIGHT_INVOICE_PATH, 200),
        ]

        await g.clear_upstream_requests()
        await _fault(g, "tight", method="POST", path="^/v5/invoicing/invoice$", status=503)
        input_ = {
            "idempotencyKey": uuid.uuid4().hex,
            "clientId": client["clients"]["nodes"][0]["id"],
            "acceptCard": True,
            "lines": [{"description": "Monthly membership", "quantity": "1", "unitPrice": "49.95"}],
        }
        data = await g.data(workloads.load("W4"), {"input": input_}, "W4CreateInvoice")
        assert [e["code"] for e in data["createInvoice"]["userErrors"]] == ["UPSTREAM_FAILED"]
        writes = [c for c in await _calls(g, "tight") if c[0] == "POST"]
        assert writes == [("POST", "/v5/invoicing/invoice", 503)]


# --- token refresh -----------------------------------------------------------------------

REFRESH = {"fitnessforce": "/authentication/refresh_token", "tight": "/v5/auth/token"}
READS = {
    "fitnessforce": (FF_INVOICE, FF_INVOICE_PATH),
    "tight": (TIGHT_INVOICE, TIGHT_INVOICE_PATH),
}


@pytest.mark.parametrize("source", ["fitnessforce", "tight"])
async def test_an_expired_token_is_refreshed_once_and_the_calls_replayed(
    sandbox_clean: RunningSandbox, source: str
) -> None:
    invoice_id, path = READS[source]
    async with graph_server(_settings(sources=_on(sandbox_clean, source)), sandbox_clean) as g:
        before = await g.data(INVOICE, {"id": invoice_id})
        await g.clear_upstream_requests()
        async with g.http.post(sandbox_clean.urls[source] + "/__sandbox/tokens/expire") as r:
            assert r.status == 204
        assert await g.data(INVOICE, {"id": invoice_id}) == before
        assert await _calls(g, source) == [
            ("GET", path, 401),
            ("POST", REFRESH[source], 200),
            ("GET", path, 200),
        ]


@pytest.mark.parametrize("source", ["fitnessforce", "tight"])
async def test_a_call_refused_after_a_refresh_is_not_replayed_again(
    sandbox_clean: RunningSandbox, source: str
) -> None:
    invoice_id, path = READS[source]
    async with graph_server(_settings(sources=_on(sandbox_clean, source)), sandbox_clean) as g:
        await g.data(INVOICE, {"id": invoice_id})
        await g.clear_upstream_requests()
        await _fault(g, source, method="GET", path=f"^{path}$", status=401, times=2)
        body = await g.query(INVOICE, {"id": invoice_id})
        assert body["errors"][0]["extensions"] == {"code": "UPSTREAM_AUTH", "source": source}
        assert await _calls(g, source) == [
            ("GET", path, 401),
            ("POST", REFRESH[source], 200),
            ("GET", path, 401),
        ]


# --- timeouts and the deadline -----------------------------------------------------------


@pytest.fixture
async def timetap_proxy(sandbox_clean: RunningSandbox) -> AsyncIterator[Upstream]:
    proxy = Upstream(sandbox_clean.urls["timetap"])
    await proxy.start()
    yield proxy
    await proxy.stop()


async def test_a_hung_upstream_gives_upstream_timeout(
    sandbox_clean: RunningSandbox, timetap_proxy: Upstream
) -> None:
    # The source's own read timeout (0.3 s) wins over the global one (10 s).
    own = SourceSettings(Source.TIMETAP, timetap_proxy.url, None, read_timeout_s=0.3)
    settings = _settings(sources=(own,), read_timeout_s=10.0, retries=1)
    async with graph_server(settings, sandbox_clean) as g:
        timetap_proxy.on(TIMETAP_INVOICE_PATH, hang=True, times=5)
        elapsed, body = await _elapsed(lambda: g.query(INVOICE, {"id": TIMETAP_INVOICE}))
        assert body["data"] == {"invoice": None}
        [error] = body["errors"]
        assert error["extensions"] == {"code": "UPSTREAM_TIMEOUT", "source": "timetap"}
        assert "127.0.0.1" not in str(error)
        assert timetap_proxy.count(TIMETAP_INVOICE_PATH) == 2  # a read: tried again once
        assert elapsed < 2.0


async def test_the_request_deadline_bounds_a_slow_query(
    sandbox_clean: RunningSandbox, timetap_proxy: Upstream
) -> None:
    own = SourceSettings(Source.TIMETAP, timetap_proxy.url, None)
    settings = _settings(sources=(own,), read_timeout_s=5.0, request_deadline_s=0.6, retries=2)
    async with graph_server(settings, sandbox_clean) as g:
        timetap_proxy.on(TIMETAP_INVOICE_PATH, delay=3.0)
        elapsed, body = await _elapsed(lambda: g.query(INVOICE, {"id": TIMETAP_INVOICE}))
        [error] = body["errors"]
        assert error["extensions"] == {"code": "UPSTREAM_TIMEOUT", "source": "timetap"}
        # No retry past the deadline, and the deadline is the request's own: the next
        # request has a new one, and the source is not blamed for the cut.
        assert timetap_proxy.count(TIMETAP_INVOICE_PATH) == 1
        assert 0.5 <= elapsed < 1.5
        assert await g.data(INVOICE, {"id": TIMETAP_INVOICE}) == {
            "invoice": {"number": "50101-00467"}
        }
        data = await g.data(SOURCES)
        [timetap] = [s for s in data["sources"] if s["source"] == "TIMETAP"]
        assert timetap["breakerState"] == "CLOSED"


async def test_a_call_after_the_deadline_fails_without_reaching_the_upstream(
    upstream: Upstream,
) -> None:
    http = await _client(upstream.url, CallPolicy(retries=2))
    try:
        with deadline(0.0), pytest.raises(UpstreamTimeout, match="deadline"):
            await http.request("GET", "/read")
        with deadline(5.0):
            assert await http.request("GET", "/read") == {"ok": True}
    finally:
        await http.close()
    assert upstream.hits == ["/read"]
    assert http.breaker.state is BreakerState.CLOSED


# --- the circuit breaker -----------------------------------------------------------------


async def test_the_breaker_opens_fails_fast_and_closes_after_a_probe(
    sandbox_clean: RunningSandbox,
) -> None:
    settings = _settings(
        sources=_on(sandbox_clean, "tight", "timetap"),
        retries=0,
        breaker_failures=3,
        # Long enough that the checks of the open state below finish inside it on a
        # loaded machine; the wait for the probe is measured from the opening.
        breaker_reset_s=2.0,
    )
    async with graph_server(settings, sandbox_clean) as g:
        tight_invoice = {"id": TIGHT_INVOICE}
        await g.data(INVOICE, tight_invoice)
        assert (await _readyz(g))[0] == 200
        await _fault(g, "tight", path=f"^{TIGHT_INVOICE_PATH}$", status=500, times=3)
        for _ in range(3):
            body = await g.query(INVOICE, tight_invoice)
            assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
        opened = time.monotonic()  # the third failure, answered, opened the breaker

        # Open: the next call fails at once, and nothing reaches the source.
        await g.clear_upstream_requests()
        body = await g.query(INVOICE, tight_invoice)
        assert body["errors"][0]["extensions"] == {
            "code": "UPSTREAM_UNAVAILABLE",
            "source": "tight",
        }
        assert await _calls(g, "tight") == []
        tight = await _tight_source(g)
        assert (tight["healthy"], tight["breakerState"]) == (False, "OPEN")
        assert 0 < tight["recentErrorRate"] <= 1
        status, ready = await _readyz(g)
        assert status == 503
        assert ready["unavailable"] == ["tight"]
        assert ready["sources"]["tight"]["breakerState"] == "OPEN"
        assert ready["sources"]["timetap"]["breakerState"] == "CLOSED"

        # After the reset time one probe goes through; it succeeds, and the breaker closes.
        await asyncio.sleep(opened + settings.breaker_reset_s + 0.05 - time.monotonic())
        tight = await _tight_source(g)
        assert (tight["healthy"], tight["breakerState"]) == (True, "HALF_OPEN")
        assert (await _readyz(g))[0] == 200
        await g.data(INVOICE, tight_invoice)
        assert await _calls(g, "tight") == [("GET", TIGHT_INVOICE_PATH, 200)]
        tight = await _tight_source(g)
        assert (tight["healthy"], tight["breakerState"]) == (True, "CLOSED")


async def test_a_failed_probe_opens_the_breaker_again(upstream: Upstream) -> None:
    # The checks of each open state finish well inside reset_s, even on a loaded machine.
    breaker = CircuitBreaker("tight", failures=2, reset_s=0.6)
    http = await _client(upstream.url, CallPolicy(breaker=breaker))
    try:
        upstream.on("^/read$", status=500, times=2)
        for _ in range(2):
            with pytest.raises(UpstreamUnavailable):
                await http.request("GET", "/read")
        with pytest.raises(UpstreamUnavailable, match="circuit breaker open"):
            await http.request("GET", "/read")
        assert upstream.count("^/read$") == 2

        # Half-open: one probe at a time; the others fail fast meanwhile.
        await asyncio.sleep(0.65)
        upstream.on("^/read$", status=503, delay=0.1)
        results = await asyncio.gather(
            *(http.request("GET", "/read") for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, UpstreamUnavailable) for r in results)
        assert sum("circuit breaker open" in str(r) for r in results) == 2
        assert upstream.count("^/read$") == 3
        assert breaker.state is BreakerState.OPEN

        await asyncio.sleep(0.65)
        assert await http.request("GET", "/read") == {"ok": True}
        assert breaker.state is BreakerState.CLOSED
    finally:
        await http.close()


async def test_answers_the_caller_must_fix_do_not_open_the_breaker(upstream: Upstream) -> None:
    breaker = CircuitBreaker("tight", failures=2, reset_s=30)
    http = await _client(upstream.url, CallPolicy(breaker=breaker))
    try:
        upstream.on("^/missing$", status=404, times=3)
        upstream.on("^/invalid$", status=422, times=3)
        for path in ("/missing", "/invalid") * 3:
            with pytest.raises((UpstreamNotFound, UpstreamValidationError)):
                await http.request("GET", path)
    finally:
        await http.close()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.recent_error_rate == 0.0
