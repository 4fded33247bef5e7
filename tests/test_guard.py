"""HTTP safety: CORS, body size, content types, batches, rate limits, security headers,
and bad requests answered with a clear JSON 4xx, over a live server (and the middleware
alone where a case needs an app of its own)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest

import services
from clubgraph.guard import (
    STRICT_CSP,
    Guard,
    MemoryRateLimiter,
    RedisRateLimiter,
    unverified_subject,
)
from clubgraph.identity import Role, mint
from clubgraph.sandbox.runner import RunningSandbox
from clubgraph.settings import Settings
from support import GraphServer, graph_server

SECRET = "a-development-secret-of-at-least-32-bytes"
APP = "https://app.example"
QUERY = {"query": "{ sources { name } }"}
SECURITY = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def _settings(sandbox: RunningSandbox, **overrides: Any) -> Settings:
    sources = sandbox.source_settings()
    return Settings(sources=sources, **{"mode": "sandbox", **overrides})


async def _warm(graph: GraphServer, **headers: str) -> GraphServer:
    """The ClubCollect index's first crawl ends before requests are counted."""
    query = {"query": "{ invoices(first: 1, source: [CLUBCOLLECT]) { edges { cursor } } }"}
    async with graph.http.post(graph.url + "/graphql", json=query, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
    return graph


@pytest.fixture(scope="module")
async def guarded(sandbox: RunningSandbox) -> AsyncIterator[GraphServer]:
    settings = _settings(sandbox, cors_origins=(APP,), max_body_bytes=4096)
    async with graph_server(settings, sandbox) as graph:
        yield await _warm(graph)


@pytest.fixture(scope="module")
async def open_server(sandbox: RunningSandbox) -> AsyncIterator[GraphServer]:
    """Default safety settings: no CORS origin, no rate limit."""
    async with graph_server(_settings(sandbox), sandbox) as graph:
        yield await _warm(graph)


@pytest.fixture(scope="module")
async def production(sandbox: RunningSandbox) -> AsyncIterator[GraphServer]:
    async with graph_server(_settings(sandbox, mode="production", jwt_secret=SECRET), sandbox) as g:
        yield await _warm(g, **_token("warm-up"))


async def _request(
    graph: GraphServer,
    method: str,
    path: str = "/graphql",
    *,
    body: bytes | None = None,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    async with graph.http.request(
        method, graph.url + path, data=body, json=json_body, headers=headers or {}
    ) as resp:
        return resp.status, {k.lower(): v for k, v in resp.headers.items()}, await resp.read()


def _errors(body: bytes) -> list[dict[str, Any]]:
    errors = json.loads(body)["errors"]
    assert errors
    assert all(isinstance(e["message"], str) and e["message"] for e in errors)
    return list(errors)


# --- CORS --------------------------------------------------------------------------


async def test_a_preflight_from_an_allowed_origin_is_answered(guarded: GraphServer) -> None:
    status, headers, _ = await _request(
        guarded,
        "OPTIONS",
        headers={
            "Origin": APP,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )
    assert status == 204
    assert headers["access-control-allow-origin"] == APP
    assert "POST" in headers["access-control-allow-methods"]
    assert headers["access-control-allow-headers"] == "content-type, authorization"
    assert int(headers["access-control-max-age"]) > 0
    assert "Origin" in headers["vary"]


async def test_a_preflight_from_another_origin_is_refused(guarded: GraphServer) -> None:
    status, headers, body = await _request(
        guarded,
        "OPTIONS",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert status == 403
    assert "access-control-allow-origin" not in headers
    assert _errors(body)[0]["extensions"]["code"] == "CORS_ORIGIN_NOT_ALLOWED"


async def test_responses_carry_cors_headers_for_allowed_origins_only(guarded: GraphServer) -> None:
    status, headers, _ = await _request(guarded, "POST", json_body=QUERY, headers={"Origin": APP})
    assert status == 200
    assert headers["access-control-allow-origin"] == APP
    assert headers["access-control-expose-headers"] == "Retry-After"
    status, headers, _ = await _request(
        guarded, "POST", json_body=QUERY, headers={"Origin": "https://evil.example"}
    )
    assert status == 200
    assert "access-control-allow-origin" not in headers
    assert "Origin" in headers["vary"]


async def test_without_origins_there_are_no_cors_headers(open_server: GraphServer) -> None:
    status, headers, _ = await _request(
        open_server, "OPTIONS", headers={"Origin": APP, "Access-Control-Request-Method": "POST"}
    )
    assert status == 403
    status, other, _ = await _request(open_server, "POST", json_body=QUERY, headers={"Origin": APP})
    assert status == 200
    for response in (headers, other):
        assert not [h for h in response if h.startswith("access-control-")]


# --- bodies ------------------------------------------------------------------------


async def _raw(
    url: str, head: str, chunks: list[bytes] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 exchange over a socket of its own: what is sent is exactly this."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(head.encode())
        for chunk in chunks or ():
            writer.write(chunk)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers["content-length"]))
        return int(status_line.split()[1]), headers, body
    finally:
        writer.close()


async def test_a_body_above_the_limit_is_refused_from_its_length_unread(
    guarded: GraphServer,
) -> None:
    await guarded.clear_upstream_requests()
    head = (
        "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000000000\r\n\r\n"
    )
    # Not a byte of the body is sent: the answer comes from the header alone.
    status, headers, body = await _raw(guarded.url, head)
    assert status == 413
    assert headers["content-type"] == "application/json"
    [error] = _errors(body)
    assert error["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "maximumBytes": 4096}
    assert "4096 bytes" in error["message"]
    assert await guarded.upstream_requests() == []


async def test_a_chunked_body_is_refused_once_it_passes_the_limit(guarded: GraphServer) -> None:
    head = (
        "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"3e8\r\n" + b" " * 1000 + b"\r\n"  # 1000 bytes a chunk, never a last chunk
    status, _, body = await _raw(guarded.url, head, [chunk] * 5)
    assert status == 413
    assert _errors(body)[0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_a_body_within_the_limit_is_served(guarded: GraphServer) -> None:
    padded = json.dumps(QUERY).encode().ljust(4000)
    status, _, body = await _request(
        guarded, "POST", body=padded, headers={"Content-Type": "application/json"}
    )
    assert status == 200
    assert len(json.loads(body)["data"]["sources"]) == 4


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
async def test_a_post_that_is_not_json_is_415(
    guarded: GraphServer, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    status, _, body = await _request(
        guarded, "POST", body=json.dumps(QUERY).encode(), headers=headers
    )
    assert status == 415
    [error] = _errors(body)
    assert error["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "application/json" in error["message"]


async def test_a_batch_is_refused_while_batching_is_off(guarded: GraphServer) -> None:
    status, _, body = await _request(guarded, "POST", json_body=[QUERY, QUERY])
    assert status == 400
    [error] = _errors(body)
    assert error["extensions"]["code"] == "BATCHING_NOT_SUPPORTED"


# --- the middleware alone ----------------------------------------------------------


async def _call(
    app: Any,
    method: str = "POST",
    path: str = "/graphql",
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    client: tuple[str, int] = ("10.0.0.1", 5000),
) -> tuple[int, dict[str, str], bytes]:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": client,
    }
    incoming = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, content


async def _echo(scope: Any, receive: Any, send: Any) -> None:
    """An app that answers with the size of the body it was given."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    payload = json.dumps({"received": len(body)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": payload})


JSON_HEADERS = {"content-type": "application/json"}


async def test_batches_above_the_maximum_are_refused_when_batching_is_on() -> None:
    guard = Guard(_echo, settings=Settings(max_batch=2), batching=True)
    two = json.dumps([QUERY, QUERY]).encode()
    status, _, body = await _call(guard, body=two, headers=JSON_HEADERS)
    assert (status, json.loads(body)) == (200, {"received": len(two)})
    status, _, body = await _call(
        guard, body=json.dumps([QUERY] * 3).encode(), headers=JSON_HEADERS
    )
    assert status == 400
    [error] = _errors(body)
    assert error["extensions"] == {"code": "TOO_MANY_OPERATIONS", "maximumBatch": 2}
    assert "3 operations in one request, above the maximum batch of 2" in error["message"]


async def test_an_unexpected_exception_is_a_json_500_that_tells_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("/srv/secret/path.py: token=abc")

    with caplog.at_level(logging.ERROR, logger="clubgraph"):
        status, headers, body = await _call(
            Guard(broken, settings=Settings()), body=b"{}", headers=JSON_HEADERS
        )
    assert status == 500
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {
        "errors": [
            {"message": "Internal server error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
        ]
    }
    assert "RuntimeError" in caplog.text  # logged here, with its traceback, not sent


async def test_the_rate_limit_store_closes_with_the_app() -> None:
    closed: list[bool] = []

    class Store(MemoryRateLimiter):
        async def close(self) -> None:
            closed.append(True)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.shutdown.complete"})

    guard = Guard(app, settings=Settings(), limiter=Store(10))
    sent: list[Any] = []

    async def receive() -> dict[str, str]:
        return {"type": "lifespan.shutdown"}

    async def send(message: Any) -> None:
        sent.append(message)

    await guard({"type": "lifespan"}, receive, send)
    assert closed == [True]
    assert sent == [{"type": "lifespan.shutdown.complete"}]


# --- rate limits -------------------------------------------------------------------


def _token(subject: str) -> dict[str, str]:
    token = mint(SECRET, role=Role.STAFF, subject=subject, tenants=["*"])
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def limited_rate(sandbox: RunningSandbox) -> AsyncIterator[GraphServer]:
    settings = _settings(sandbox, jwt_secret=SECRET, rate_limit_per_minute=3)
    async with graph_server(settings, sandbox) as graph:
        yield await _warm(graph, **_token("warm-up"))  # a bucket of its own


async def test_requests_over_the_rate_are_429_with_retry_after(
    limited_rate: GraphServer,
) -> None:
    for _ in range(3):
        status, _, _ = await _request(limited_rate, "POST", json_body=QUERY)
        assert status == 200
    await limited_rate.clear_upstream_requests()
    status, headers, body = await _request(limited_rate, "POST", json_body=QUERY)
    assert status == 429
    # 3 a minute: one token every 20 s.
    assert 1 <= int(headers["retry-after"]) <= 20
    [error] = _errors(body)
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["limitPerMinute"] == 3
    assert "3 a minute" in error["message"]
    assert await limited_rate.upstream_requests() == []
    # Health checks are not limited.
    status, _, _ = await _request(limited_rate, "GET", "/healthz")
    assert status == 200


async def test_each_token_subject_has_its_own_bucket(limited_rate: GraphServer) -> None:
    alice, bob = _token("alice"), _token("bob")
    statuses = [
        (await _request(limited_rate, "POST", json_body=QUERY, headers=alice))[0] for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    # A second token of the same subject shares the bucket; another subject does not.
    assert (await _request(limited_rate, "POST", json_body=QUERY, headers=_token("alice")))[
        0
    ] == 429
    assert (await _request(limited_rate, "POST", json_body=QUERY, headers=bob))[0] == 200
    # A token that does not verify is not a subject: its caller is its address.
    forged = {"Authorization": "Bearer " + _forge("carol")}
    for _ in range(4):
        status, _, _ = await _request(limited_rate, "POST", json_body=QUERY, headers=forged)
    assert status == 429


def _forge(subject: str) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': subject})}.c2lnbmF0dXJl"


def test_the_unverified_subject_of_a_token() -> None:
    assert unverified_subject("Bearer " + _forge("dave")) == "dave"
    assert unverified_subject("Basic " + _forge("dave")) is None
    assert unverified_subject("Bearer not-a-token") is None
    assert unverified_subject("Bearer a.!!!.c") is None


async def test_a_bucket_refills_at_the_rate() -> None:
    now = [1000.0]
    limiter = MemoryRateLimiter(60, clock=lambda: now[0])
    assert [await limiter.acquire("a") for _ in range(60)] == [0.0] * 60
    assert await limiter.acquire("a") == pytest.approx(1.0)
    assert await limiter.acquire("b") == 0.0
    now[0] += 0.5
    assert await limiter.acquire("a") == pytest.approx(0.5)
    now[0] += 0.5
    assert await limiter.acquire("a") == 0.0
    assert await limiter.acquire("a") == pytest.approx(1.0)


async def test_the_memory_limiter_forgets_the_least_recent_caller() -> None:
    limiter = MemoryRateLimiter(1, max_keys=2)
    assert await limiter.acquire("a") == 0
    assert await limiter.acquire("b") == 0
    assert await limiter.acquire("c") == 0  # "a" is forgotten: it starts again full
    assert await limiter.acquire("a") == 0
    assert await limiter.acquire("c") > 0


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A Redis (``services.redis_url``); a redis-server started for this module stops after."""
    before = list(services._started)
    url = services.redis_url()
    mine = [p for p in services._started if p not in before]
    yield url
    for process in mine:
        services._started.remove(process)
        process.terminate()
        process.wait(timeout=10)


async def test_replicas_share_their_buckets_in_redis(redis_url: str) -> None:
    prefix = f"clubgraph-test:{uuid.uuid4().hex}:"
    one = RedisRateLimiter(redis_url, 3, prefix=prefix)
    two = RedisRateLimiter(redis_url, 3, prefix=prefix)
    try:
        waits = [await one.acquire("ip:10.0.0.9"), await two.acquire("ip:10.0.0.9")]
        waits.append(await one.acquire("ip:10.0.0.9"))
        assert waits == [0.0, 0.0, 0.0]
        wait = await two.acquire("ip:10.0.0.9")
        assert 19 < wait <= 20  # 3 a minute: the next token in 20 s
        assert await one.acquire("ip:10.0.0.10") == 0.0
        # Through the middleware: the same bucket, and a 429 with its wait.
        guard = Guard(_echo, settings=Settings(rate_limit_per_minute=3), limiter=two)
        status, headers, _ = await _call(
            guard, body=b"{}", headers=JSON_HEADERS, client=("10.0.0.9", 1)
        )
        assert status == 429
        assert headers["retry-after"] == "20"
        assert (await two.client.ttl(one.key("ip:10.0.0.9"))) > 0
    finally:
        await one.client.delete(one.key("ip:10.0.0.9"), one.key("ip:10.0.0.10"))
        await one.close()
        await two.close()


async def test_an_unreachable_redis_lets_requests_through(caplog: pytest.LogCaptureFixture) -> None:
    closed = f"redis://127.0.0.1:{services.free_port()}/0"
    limiter = RedisRateLimiter(closed, 1, timeout_s=0.2, retry_after_s=0.0)
    try:
        with caplog.at_level(logging.WARNING, logger="clubgraph"):
            assert [await limiter.acquire("ip:x") for _ in range(3)] == [0.0] * 3
        assert caplog.text.count("rate limit store unavailable") == 1
    finally:
        await limiter.close()


# --- headers -----------------------------------------------------------------------


async def test_every_response_carries_the_security_headers(guarded: GraphServer) -> None:
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/graphql", {"json_body": QUERY}),
        ("POST", "/graphql", {"json_body": {"query": "{ nope }"}}),
        ("POST", "/graphql", {"body": b"{", "headers": {"Content-Type": "application/json"}}),
        ("POST", "/graphql", {"body": b"x", "headers": {"Content-Type": "text/plain"}}),
        ("GET", "/graphql?query=%7Bsources%7Bname%7D%7D", {}),
        ("GET", "/graphql", {"headers": {"Accept": "text/html"}}),
        ("GET", "/healthz", {}),
        ("GET", "/nowhere", {}),
        ("PUT", "/graphql", {"body": b"{}"}),
        (
            "OPTIONS",
            "/graphql",
            {"headers": {"Origin": APP, "Access-Control-Request-Method": "POST"}},
        ),
    ]
    for method, path, options in cases:
        status, headers, _ = await _request(guarded, method, path, **options)
        for name, value in SECURITY.items():
            assert headers.get(name) == value, (method, path, status, name)
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        if method == "POST":
            assert headers["cache-control"] == "no-store", (path, status)
        if status != 200 or "text/html" not in headers.get("content-type", ""):
            assert headers["content-security-policy"] == STRICT_CSP, (method, path)


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.inline: list[str] = []
        self.data: list[str] = []
        self._open: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            if found.get("src"):
                self.scripts.append(found["src"] or "")
            else:
                # A JSON data block is never run; any other script without src would be.
                self._open = self.data if found.get("type") == "application/json" else self.inline
                self._open.append("")
        if tag == "link" and found.get("rel") == "stylesheet":
            self.styles.append(found.get("href") or "")

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open[-1] += data

    def handle_endtag(self, tag: str) -> None:
        self._open = None


async def test_graphiql_is_served_in_sandbox_mode_with_a_self_only_policy(
    open_server: GraphServer,
) -> None:
    status, headers, body = await _request(open_server, "GET", headers={"Accept": "text/html"})
    assert status == 200
    assert "graphiql" in body.decode().lower()
    policy = {
        d.split()[0]: d.split()[1:]
        for d in headers["content-security-policy"].split(";")
        if d.strip()
    }
    assets = _Assets()
    assets.feed(body.decode())
    # Everything from this server: no other host, no inline script.
    assert assets.scripts
    assert assets.styles
    assert assets.data
    assert assets.inline == []
    for url in assets.scripts + assets.styles:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("", ""), url
        assert parts.path.startswith("/graphiql/assets/"), url
    nonce = policy["style-src"][1].removeprefix("'nonce-").removesuffix("'")
    assert f'content="{nonce}"' in body.decode()
    assert policy == {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", f"'nonce-{nonce}'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
    }
    # A new nonce for every page.
    _, again, _ = await _request(open_server, "GET", headers={"Accept": "text/html"})
    assert again["content-security-policy"] != headers["content-security-policy"]


async def test_production_serves_no_graphiql(production: GraphServer) -> None:
    status, headers, body = await _request(production, "GET", headers={"Accept": "text/html"})
    assert status == 404
    assert headers["content-type"] == "application/json"
    assert headers["content-security-policy"] == STRICT_CSP
    assert _errors(body)[0]["extensions"]["code"] == "NOT_FOUND"


# --- bad requests ------------------------------------------------------------------

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "said"),
    [
        ("POST", "/graphql", b'{"query": ', JSON, 400, "Unable to parse request body as JSON"),
        (
            "POST",
            "/graphql",
            b'{"query": "\xff"}',
            JSON,
            400,
            "Unable to parse request body as JSON",
        ),
        ("POST", "/graphql", b'"{ sources { name } }"', JSON, 400, "must be one JSON object"),
        ("POST", "/graphql", b"null", JSON, 400, "must be one JSON object"),
        ("POST", "/graphql", b"", JSON, 400, "must be one JSON object"),
        ("POST", "/graphql", b"{}", JSON, 400, "No GraphQL query found"),
        ("POST", "/graphql", b'{"query": 5}', JSON, 400, "`query` must be a string"),
        (
            "POST",
            "/graphql",
            b'{"query": "{ sources { name } }", "variables": [1]}',
            JSON,
            400,
            "`variables` must be an object",
        ),
        (
            "POST",
            "/graphql",
            b'{"query": "query A { sources { name } }", "operationName": "B"}',
            JSON,
            400,
            'Unknown operation named "B"',
        ),
        ("GET", "/graphql", None, {"Accept": "application/json"}, 400, "No GraphQL query found"),
        (
            "GET",
            "/graphql?query=mutation%7B__typename%7D",
            None,
            {},
            400,
            "mutations are not allowed",
        ),
        ("PUT", "/graphql", b"{}", JSON, 405, "Method Not Allowed"),
        ("GET", "/no/such/path", None, {}, 404, "Not Found"),
    ],
)
async def test_bad_requests_get_a_clear_json_4xx(
    guarded: GraphServer,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    status: int,
    said: str,
) -> None:
    await guarded.clear_upstream_requests()
    got, response_headers, content = await _request(
        guarded, method, path, body=body, headers=headers
    )
    assert got == status, content
    assert response_headers["content-type"] == "application/json"
    [error] = _errors(content)
    assert said in error["message"]
    assert error["extensions"]["code"]
    assert await guarded.upstream_requests() == []
