"""HTTP safety in front of the application: what a request must be to reach the graph.

``Guard`` is ASGI middleware. In this order, for every HTTP request:

1. A CORS preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``)
   is answered here: 204 with the CORS headers when the origin is in
   ``Settings.cors_origins``, 403 otherwise. No origins configured: no CORS headers,
   ever, so browsers on other origins cannot read responses.
2. Requests to the GraphQL endpoint are rate limited per identity (the ``sub`` of the
   bearer token, else the client's IP address) with a token bucket of
   ``rate_limit_per_minute`` tokens refilled continuously: in memory, or in Redis
   (``redis_url``) so that replicas share the buckets. Over the limit: 429 with
   ``Retry-After``. Redis unreachable: requests go through (logged once).
3. A body larger than ``max_body_bytes`` is refused with 413, from its
   ``Content-Length`` before reading it, or as soon as the bytes read pass the limit.
4. A POST to the GraphQL endpoint must be JSON (415 otherwise) holding one JSON object;
   a JSON array (a batch) is refused with 400 when batching is off, and above
   ``max_batch`` operations when it is on.
5. Every response carries ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
   no-referrer``, ``X-Frame-Options: DENY`` and a Content-Security-Policy (one that
   lets the GraphiQL page load its scripts and styles from this origin alone in sandbox
   mode; ``default-src 'none'`` otherwise); a response to a POST also ``Cache-Control:
   no-store``.
6. An error response that is not JSON (a plain-text 400 of the GraphQL view, a 404, a
   405) is turned into ``{"errors": [{"message", "extensions": {"code"}}]}``; an
   unexpected exception becomes a JSON 500 without any detail.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import math
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from html.parser import HTMLParser
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

from .settings import Settings

log = logging.getLogger("clubgraph")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Takes the Authorization header; gives the caller's subject, or None (not a caller).
Identify = Callable[[str], str | None]

STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The GraphiQL page (sandbox mode) loads everything from this server (graphiql/). The one
# style element its menus add carries the request's nonce: ``request.state.style_nonce``.
IDE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
STYLE_NONCE = "style_nonce"
PREFLIGHT_MAX_AGE_S = 600
ALLOWED_METHODS = "GET, POST"
DEFAULT_ALLOWED_HEADERS = "authorization, content-type"
# Error responses already in JSON (GraphQL over HTTP's media type included) pass as they are.
_JSON_MEDIA = ("application/json", "application/graphql-response+json")

_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}
_JSON_SPACE = b" \t\r\n"
_HEADER_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


def error_body(message: str, code: str, **extensions: object) -> bytes:
    """A GraphQL-over-HTTP error document."""
    return orjson.dumps(
        {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
    )


# --- who is asking -----------------------------------------------------------------


def unverified_subject(authorization: str) -> str | None:
    """The ``sub`` claim of a bearer JWT, read without verifying it.

    Good enough to tell callers apart for rate limiting when no verifier is given:
    a forged token only moves its bearer into another bucket, and is refused after.
    """
    scheme, _, token = authorization.strip().partition(" ")
    parts = token.strip().split(".")
    if scheme.lower() != "bearer" or len(parts) != 3 or len(parts[1]) > 8192:
        return None
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = orjson.loads(payload)
    except (binascii.Error, ValueError):
        return None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    return sub if isinstance(sub, str) and sub else None


# --- rate limits -------------------------------------------------------------------


class RateLimiter(Protocol):
    async def acquire(self, identity: str) -> float:
        """Take one token: 0 when the request may go on, else seconds until it may."""
        ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """Token buckets in this process: ``per_minute`` tokens, refilled continuously.

    At most ``max_keys`` buckets are kept; the least recently used one is forgotten
    (a forgotten caller starts again with a full bucket).
    """

    def __init__(
        self,
        per_minute: int,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def acquire(self, identity: str) -> float:
        now = self.clock()
        tokens, updated = self._buckets.pop(identity, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - updated) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[identity] = (tokens, now)
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait

    async def close(self) -> None:
        self._buckets.clear()


# One bucket per key, as a hash of tokens and the time (ms, Redis's clock) they were
# counted; it expires once it would be full again. Returns the wait in ms (0: allowed).
_TAKE = """
local capacity = tonumber(ARGV[1])
local per_ms = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_ms)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / per_ms)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / per_ms) + 1000)
return wait
"""


class RedisRateLimiter:
    """The same token buckets in Redis, shared by every replica (keys under ``prefix``).

    When Redis cannot be reached, requests go through: a rate limit must not take the
    service down with it. That is logged once, and again when Redis is back.
    """

    def __init__(
        self,
        url: str,
        per_minute: int,
        *,
        prefix: str = "clubgraph:rate:",
        timeout_s: float = 0.5,
        retry_after_s: float = 1.0,
    ) -> None:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.capacity = per_minute
        self.per_ms = per_minute / 60_000.0
        self.prefix = prefix
        self.retry_after_s = retry_after_s
        # One immediate retry: a pooled connection a Redis restart dropped is replaced.
        self.client: Any = Redis.from_url(
            url,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            retry=Retry(NoBackoff(), 1),
        )
        self._take = self.client.register_script(_TAKE)
        self._down_until: float | None = None

    @property
    def available(self) -> bool:
        """False after a failure, until a call succeeds again."""
        return self._down_until is None

    def key(self, identity: str) -> str:
        return self.prefix + hashlib.sha256(identity.encode()).hexdigest()[:32]

    async def acquire(self, identity: str) -> float:
        if self._down_until is not None and time.monotonic() < self._down_until:
            return 0.0
        try:
            wait_ms = await self._take(keys=[self.key(identity)], args=[self.capacity, self.per_ms])
        except Exception as exc:  # unreachable, timed out: never the request's failure
            if self._down_until is None:
                log.warning(
                    "rate limit store unavailable (%s); requests are not limited: %s",
                    type(exc).__name__,
                    exc,
                )
            self._down_until = time.monotonic() + self.retry_after_s
            return 0.0
        if self._down_until is not None:
            log.warning("rate limit store available again")
            self._down_until = None
        return float(wait_ms) / 1000.0

    async def close(self) -> None:
        await self.client.aclose()


def rate_limiter(settings: Settings) -> RateLimiter | None:
    """The limiter the settings ask for (None: no limit)."""
    if settings.rate_limit_per_minute <= 0:
        return None
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url, settings.rate_limit_per_minute)
    return MemoryRateLimiter(settings.rate_limit_per_minute)


# --- the GraphiQL page's policy ----------------------------------------------------


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.script_origins: set[str] = set()
        self.style_origins: set[str] = set()
        self.inline: list[str] = []
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            src = attributes.get("src")
            if src:
                self.script_origins.add(_origin(src))
            elif not (attributes.get("type") or "").lower().endswith("json"):
                # A JSON data block is never run: no policy is needed for it.
                self._text = []
        elif tag == "link" and (attributes.get("rel") or "").lower() == "stylesheet":
            self.style_origins.add(_origin(attributes.get("href") or ""))

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._text is not None:
            self.inline.append("".join(self._text))
            self._text = None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "'self'"


def ide_csp(html: str) -> str:
    """The IDE page's policy: scripts, styles and requests from this origin only, data:
    images and fonts, never framed. A page that does not fit it (an asset from another
    host, an inline script) is refused here, not left for the browser to break."""
    assets = _Assets()
    assets.feed(html)
    assets.close()
    foreign = sorted((assets.script_origins | assets.style_origins) - {"'self'"})
    if foreign or assets.inline:
        raise ValueError(
            "the IDE page must load its scripts and styles from this origin only: "
            f"{len(assets.inline)} inline scripts, other hosts {foreign}"
        )
    return IDE_CSP


# --- the middleware ----------------------------------------------------------------


class _Disconnected(Exception):
    """The client went away while sending its body."""


class Guard:
    """See the module's doc. ``identify`` turns an Authorization header into the caller's
    subject (default: the token's unverified ``sub``); ``ide_html`` is the IDE page
    served in sandbox mode (checked against its policy); ``batching`` says whether the
    GraphQL view accepts a JSON array of operations."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        identify: Identify | None = None,
        ide_html: str | None = None,
        batching: bool = False,
        graphql_path: str = "/graphql",
        limiter: RateLimiter | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.identify = identify or unverified_subject
        self.ide_csp = ide_csp(ide_html) if ide_html else None
        self.batching = batching
        self.graphql_path = graphql_path
        self.origins = frozenset(o.rstrip("/") for o in settings.cors_origins)
        self.limiter = limiter if limiter is not None else rate_limiter(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method: str = scope["method"]
        origin = headers.get("origin")
        started: list[bool] = []
        ide_csp = None
        if self.ide_csp is not None:
            nonce = secrets.token_urlsafe(18)
            scope.setdefault("state", {})[STYLE_NONCE] = nonce
            ide_csp = self.ide_csp.replace("{nonce}", nonce)
        send = self._wrap(send, method, origin, started, ide_csp)
        try:
            receive_body = await self._admit(scope, headers, method, origin, receive, send)
            if receive_body is not None:
                await self.app(scope, receive_body, send)
        except _Disconnected:
            return
        except Exception:
            if started:
                raise
            log.exception("unexpected error serving %s %s", method, scope.get("path"))
            await self._respond(
                send, 500, error_body("Internal server error", "INTERNAL_SERVER_ERROR")
            )

    async def _admit(
        self,
        scope: Scope,
        headers: dict[str, str],
        method: str,
        origin: str | None,
        receive: Receive,
        send: Send,
    ) -> Receive | None:
        """The receive to run the app with, or None when a refusal was sent."""
        settings = self.settings
        if method == "OPTIONS" and origin and "access-control-request-method" in headers:
            await self._preflight(headers, origin, send)
            return None
        graphql = scope["path"].rstrip("/") == self.graphql_path
        if graphql and self.limiter is not None:
            identity = self._identity(scope, headers)
            wait = await self.limiter.acquire(identity)
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                per_minute = settings.rate_limit_per_minute
                body = error_body(
                    f"Too many requests: the limit is {per_minute} a minute; "
                    f"retry after {seconds} s.",
                    "RATE_LIMITED",
                    limitPerMinute=per_minute,
                    retryAfter=seconds,
                )
                await self._respond(send, 429, body, [(b"retry-after", str(seconds).encode())])
                return None
        limit = settings.max_body_bytes
        length = headers.get("content-length", "").strip()
        if length.isdigit() and int(length) > limit:
            await self._too_large(send)
            return None
        if method not in ("POST", "PUT", "PATCH", "DELETE"):
            return receive
        if graphql and method == "POST":
            media = headers.get("content-type", "").split(";")[0].strip().lower()
            if media != "application/json":
                shown = f" ({media})" if media else ""
                body = error_body(
                    f"Unsupported content type{shown}: send the GraphQL request as JSON "
                    "with Content-Type: application/json.",
                    "UNSUPPORTED_MEDIA_TYPE",
                )
                await self._respond(send, 415, body)
                return None
        payload = await self._read(receive, limit)
        if payload is None:
            await self._too_large(send)
            return None
        if graphql and method == "POST":
            refusal = self._graphql_body(payload)
            if refusal is not None:
                await self._respond(send, 400, refusal)
                return None
        return _replay(payload, receive)

    def _identity(self, scope: Scope, headers: dict[str, str]) -> str:
        authorization = headers.get("authorization")
        if authorization:
            subject = self.identify(authorization)
            if subject:
                return "sub:" + subject
        client = scope.get("client")
        return "ip:" + (client[0] if client else "unknown")

    def _graphql_body(self, payload: bytes) -> bytes | None:
        """Why a POSTed GraphQL body is refused (None: the view may read it)."""
        start = payload.lstrip(_JSON_SPACE)[:1]
        if start == b"{":
            return None
        if start != b"[":
            return error_body(
                'The request body must be one JSON object: {"query": "...", "variables": {...}}.',
                "BAD_REQUEST",
            )
        if not self.batching:
            return error_body(
                "Batched operations (a JSON array) are not accepted here: send one "
                "operation per request.",
                "BATCHING_NOT_SUPPORTED",
            )
        try:
            operations = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return None  # the view says what is wrong with it
        maximum = self.settings.max_batch
        if isinstance(operations, list) and len(operations) > maximum:
            return error_body(
                f"{len(operations)} operations in one request, above the maximum batch "
                f"of {maximum}.",
                "TOO_MANY_OPERATIONS",
                maximumBatch=maximum,
            )
        return None

    @staticmethod
    async def _read(receive: Receive, limit: int) -> bytes | None:
        """The whole body, or None as soon as it passes ``limit`` bytes."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(self, send: Send) -> None:
        limit = self.settings.max_body_bytes
        body = error_body(
            f"The request body is larger than the limit of {limit} bytes.",
            "PAYLOAD_TOO_LARGE",
            maximumBytes=limit,
        )
        # The rest of the body is never read: the connection is not reused.
        await self._respond(send, 413, body, [(b"connection", b"close")])

    async def _preflight(self, headers: dict[str, str], origin: str, send: Send) -> None:
        if not self._allowed(origin):
            body = error_body(f"Origin {origin[:100]!r} is not allowed.", "CORS_ORIGIN_NOT_ALLOWED")
            await self._respond(send, 403, body)
            return
        requested = [
            h.strip().lower()
            for h in headers.get("access-control-request-headers", "").split(",")
            if _HEADER_TOKEN.match(h.strip())
        ]
        allowed = ", ".join(requested) if requested else DEFAULT_ALLOWED_HEADERS
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": [
                    (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
                    (b"access-control-allow-headers", allowed.encode()),
                    (b"access-control-max-age", str(PREFLIGHT_MAX_AGE_S).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    def _allowed(self, origin: str | None) -> bool:
        return origin is not None and (origin.rstrip("/") in self.origins or "*" in self.origins)

    @staticmethod
    async def _respond(
        send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *(extra or []),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _closing(self, send: Send) -> Send:
        """The lifespan's send: the rate limit store closes with the app."""

        async def closing(message: Message) -> None:
            if message["type"].startswith("lifespan.shutdown") and self.limiter is not None:
                await self.limiter.close()
            await send(message)

        return closing

    def _wrap(
        self,
        send: Send,
        method: str,
        origin: str | None,
        started: list[bool],
        ide_csp: str | None = None,
    ) -> Send:
        """Headers on every response; a non-JSON error response rewritten as JSON."""
        held: dict[str, Any] = {}

        async def wrapped(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                started.append(True)
                status = int(message["status"])
                headers = list(message.get("headers", []))
                media = _header(headers, b"content-type")
                if status >= 400 and not media.startswith(_JSON_MEDIA):
                    held.update(status=status, headers=headers, chunks=[])
                    return
                headers = self._headers(headers, method, origin, media, ide_csp)
                message = {**message, "headers": headers}
            elif kind == "http.response.body" and held:
                held["chunks"].append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                status = held["status"]
                text = b"".join(held["chunks"]).decode("utf-8", "replace").strip()
                if status >= 500 or not text:
                    text = "Internal server error" if status >= 500 else f"HTTP {status}"
                body = error_body(text[:500], _CODES.get(status, "INTERNAL_SERVER_ERROR"))
                kept = [
                    (k, v)
                    for k, v in held["headers"]
                    if k.lower() not in (b"content-type", b"content-length")
                ]
                kept += [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ]
                headers = self._headers(kept, method, origin, "application/json")
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        return wrapped

    def _headers(
        self,
        headers: list[tuple[bytes, bytes]],
        method: str,
        origin: str | None,
        media: str,
        ide_csp: str | None = None,
    ) -> list[tuple[bytes, bytes]]:
        present = {k.lower() for k, _ in headers}
        csp = ide_csp if ide_csp and media.startswith("text/html") else STRICT_CSP
        wanted = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"content-security-policy", csp.encode()),
        ]
        out = headers + [(k, v) for k, v in wanted if k not in present]
        if method == "POST":
            out = [(k, v) for k, v in out if k.lower() != b"cache-control"]
            out.append((b"cache-control", b"no-store"))
        if self.origins:
            out.append((b"vary", b"Origin"))
            if self._allowed(origin):
                assert origin is not None
                allow = "*" if "*" in self.origins else origin
                out.append((b"access-control-allow-origin", allow.encode("latin-1")))
                out.append((b"access-control-expose-headers", b"Retry-After"))
        return out


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1").lower()
    return ""


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body already read, then what the client sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


__all__ = [
    "STYLE_NONCE",
    "Guard",
    "MemoryRateLimiter",
    "RateLimiter",
    "RedisRateLimiter",
    "error_body",
    "ide_csp",
    "rate_limiter",
    "unverified_subject",
]
