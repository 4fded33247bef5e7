"""The pooled HTTP client every connector talks through.

One ``UpstreamHTTP`` per source, opened and closed by the app lifespan. It applies
the source's authentication, decodes JSON, counts requests for tracing, and turns
non-2xx answers into exceptions through ``errors.error_for_status``. Each call is
bounded by the source's timeouts and the GraphQL request's deadline, retried when it
is a read that failed in a way worth another try, and passes the source's circuit
breaker (resilience.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol
from urllib.parse import urlencode

import aiohttp
import msgspec
import orjson

from .errors import SourceErrorDetail, UpstreamBadResponse, UpstreamTimeout, UpstreamUnavailable
from .errors import error_for_status as _error_for_status
from .resilience import (
    RETRY_AFTER_STATUSES,
    RETRY_STATUSES,
    CallPolicy,
    CircuitBreaker,
    backoff_delay,
    deadline_passed,
    is_idempotent,
    parse_retry_after,
    time_left,
)
from .trace import current_trace

if TYPE_CHECKING:
    from .observability import UpstreamCall

Params = Mapping[str, str | int]
ErrorParser = Callable[[int, Any], Sequence[SourceErrorDetail]]


class Auth(Protocol):
    """How a source authenticates a request."""

    async def apply(
        self, http: UpstreamHTTP, headers: dict[str, str], params: dict[str, str | int]
    ) -> None:
        """Add credentials to an outgoing request, obtaining a token first if needed."""

    def invalidate(self, refused: Mapping[str, str]) -> None:
        """The upstream refused a request (401) that carried the headers ``refused``.

        Forget the token only if it is the one refused: under concurrency a late
        refusal of an old token must not throw away a token just renewed.
        """


class NoAuth:
    async def apply(
        self, http: UpstreamHTTP, headers: dict[str, str], params: dict[str, str | int]
    ) -> None:
        return None

    def invalidate(self, refused: Mapping[str, str]) -> None:
        return None


def bearer(token: str | None) -> str | None:
    """The Authorization header value a bearer token goes out as."""
    return None if token is None else f"Bearer {token}"


# msgspec hands every number with a fraction or exponent to ``Decimal`` as the text the
# upstream sent (integers stay ``int``, of any size); a third faster than the standard
# library's decoder with ``parse_float``, which calls back into Python for each number.
# NaN and Infinity, which are not JSON, are refused rather than becoming floats.
_EXACT = msgspec.json.Decoder(float_hook=Decimal)


def loads_exact(raw: bytes | str) -> Any:
    """JSON with every number that has a fraction or exponent as an exact Decimal.

    Malformed JSON (invalid UTF-8 included) raises ``ValueError``.
    """
    return _EXACT.decode(raw)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _no_details(status: int, body: Any) -> Sequence[SourceErrorDetail]:
    return ()


class _Answer(NamedTuple):
    """What the upstream answered to one attempt."""

    status: int
    body: Any
    text: str
    retry_after: str | None


class _Retry(Exception):
    """An attempt failed in a way worth another try (after ``wait`` seconds, if set)."""

    def __init__(self, error: Exception, wait: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait = wait


class UpstreamHTTP:
    """One source's base URL, pooled session and authentication."""

    def __init__(
        self,
        source: str,
        base_url: str,
        *,
        auth: Auth | None = None,
        error_parser: ErrorParser = _no_details,
        pool_size: int = 64,
        exact_decimals: bool = False,
        policy: CallPolicy | None = None,
    ) -> None:
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.auth: Auth = auth or NoAuth()
        self._error_parser = error_parser
        self.policy = policy or CallPolicy()
        self.breaker: CircuitBreaker = self.policy.breaker or CircuitBreaker(source)
        self._timeout = aiohttp.ClientTimeout(
            sock_connect=self.policy.connect_timeout_s, sock_read=self.policy.read_timeout_s
        )
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None
        # A source whose amounts are JSON numbers with fractions must not see floats.
        self._loads: Callable[[bytes], Any] = loads_exact if exact_decimals else orjson.loads

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._pool_size, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                json_serialize=lambda o: orjson.dumps(o).decode(),
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError(f"{self.source} HTTP client used before start()")
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticate: bool = True,
        auth: Auth | None = None,
        idempotent: bool | None = None,
        route: str | None = None,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Any:
        """Send one request and return its decoded JSON (or text), raising on non-2xx.

        ``form`` sends an ``application/x-www-form-urlencoded`` body instead of ``json``.
        ``auth`` overrides the client's authentication for this call (a source with one
        credential per tenant). A 401 on an authenticated call invalidates the token and
        replays the call once. A read (GET, HEAD, OPTIONS, or ``idempotent=True``) that
        failed to connect, timed out, or got 429/502/503/504 is tried again, up to the
        policy's retries, after a jittered backoff or the ``Retry-After`` the upstream
        asked for; a write never is (its idempotency key guards a replay at a higher level).

        ``route`` names the path's template for traces (``/companies/{company_id}``) where
        the path's ids do not look like ids; by default they are found by their look.
        ``decode`` replaces the JSON decoding of a successful answer (``connectors/rows.py``
        decodes a list's rows when they are used); an error's body is decoded as usual.
        """
        telemetry = self.policy.telemetry
        if telemetry is None:
            return await self._retried(
                method,
                path,
                params,
                json,
                form,
                headers,
                authenticate,
                auth,
                idempotent,
                None,
                decode,
            )
        call = telemetry.upstream_call(self.source, method, path, self.base_url, route)
        try:
            body = await self._retried(
                method,
                path,
                params,
                json,
                form,
                headers,
                authenticate,
                auth,
                idempotent,
                call,
                decode,
            )
        except BaseException as exc:
            call.end(exc)
            raise
        call.end()
        return body

    async def _retried(
        self,
        method: str,
        path: str,
        params: Params | None,
        json: Any,
        form: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        authenticate: bool,
        auth: Auth | None,
        idempotent: bool | None,
        call: UpstreamCall | None,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Any:
        """``request``'s tries: the first, and the retries a failed read is worth."""
        retryable = is_idempotent(method) if idempotent is None else idempotent
        retries = self.policy.retries if retryable else 0
        attempt = 0
        while True:
            try:
                return await self._authenticated(
                    method,
                    path,
                    params,
                    json,
                    form,
                    headers,
                    authenticate,
                    auth or self.auth,
                    call,
                    decode,
                )
            except _Retry as failed:
                if attempt >= retries:
                    raise failed.error from None
                wait = failed.wait
                if wait is None:
                    wait = backoff_delay(
                        attempt, self.policy.retry_backoff_s, self.policy.retry_max_delay_s
                    )
                left = time_left()
                if left is not None and wait >= left:
                    raise failed.error from None  # no try could finish in time
                attempt += 1
                if call is not None:
                    call.retries = attempt
                await asyncio.sleep(wait)

    async def _authenticated(
        self,
        method: str,
        path: str,
        params: Params | None,
        json: Any,
        form: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        authenticate: bool,
        scheme: Auth,
        call: UpstreamCall | None = None,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Any:
        """One try, replayed once with a fresh token when the token was refused."""
        for replay in (False, True):
            hdrs = {"Accept": "application/json", **(headers or {})}
            prm: dict[str, str | int] = dict(params or {})
            if authenticate:
                await scheme.apply(self, hdrs, prm)
            if call is not None:
                call.inject(hdrs)
                call.status = None
            answer = await self._attempt(method, path, prm, json, form, hdrs, decode)
            if call is not None:
                call.status = answer.status
            if answer.status == 401 and authenticate and not replay:
                scheme.invalidate(hdrs)
                continue
            if answer.status >= 400:
                error = _error_for_status(
                    self.source,
                    answer.status,
                    method=method,
                    url=self.base_url + path,
                    body=answer.text,
                    details=self._error_parser(answer.status, answer.body),
                )
                if answer.status in RETRY_STATUSES:
                    wait = None
                    if answer.status in RETRY_AFTER_STATUSES:
                        wait = parse_retry_after(answer.retry_after)
                        if wait is not None and wait > self.policy.retry_max_delay_s:
                            raise error  # asked to wait longer than this server will
                    raise _Retry(error, wait)
                raise error
            return answer.body
        raise AssertionError("unreachable")

    async def _attempt(
        self,
        method: str,
        path: str,
        params: dict[str, str | int],
        json: Any,
        form: Mapping[str, str] | None,
        headers: dict[str, str],
        decode: Callable[[bytes], Any] | None = None,
    ) -> _Answer:
        """One exchange through the breaker, bounded by the request's deadline.

        Connection failures, timeouts, 5xx and 429 count against the source; any other
        answer proves it is up. A call the deadline cuts says nothing about the source.
        """
        url = self.base_url + path
        left = time_left()
        if left is not None and left <= 0:
            raise deadline_passed(self.source, method, url)
        probe = self.breaker.acquire()
        bound = None
        if left is not None and left < self.policy.read_timeout_s:
            bound = aiohttp.ClientTimeout(
                total=left, sock_connect=min(self.policy.connect_timeout_s, left)
            )
        try:
            answer = await self._send(method, path, params, json, form, headers, bound, decode)
        except UpstreamTimeout as exc:
            remaining = time_left()
            if remaining is not None and remaining <= 0.01:
                self.breaker.release(probe)
                raise UpstreamTimeout(
                    self.source, "request deadline passed", method=method, url=url
                ) from exc
            self.breaker.record(probe, failed=True)
            raise _Retry(exc) from exc
        except UpstreamUnavailable as exc:
            self.breaker.record(probe, failed=True)
            raise _Retry(exc) from exc
        except BaseException:
            self.breaker.release(probe)
            raise
        self.breaker.record(probe, failed=answer.status >= 500 or answer.status == 429)
        return answer

    async def _send(
        self,
        method: str,
        path: str,
        params: dict[str, str | int],
        json: Any,
        form: Mapping[str, str] | None,
        headers: dict[str, str],
        bound: aiohttp.ClientTimeout | None = None,
        decode: Callable[[bytes], Any] | None = None,
    ) -> _Answer:
        """One HTTP exchange; ``bound`` replaces the session's timeouts when the request's
        deadline is nearer than they are."""
        url = self.base_url + path
        trace = current_trace.get()
        if trace is not None:
            trace.record(self.source)
        data: bytes | None = None
        if json is not None:
            data = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        query = {k: str(v) for k, v in params.items()}
        try:
            async with self.session.request(
                method,
                url,
                params=query,
                data=data,
                headers=headers,
                timeout=bound or self._timeout,
            ) as resp:
                raw = await resp.read()
                status = resp.status
                content_type = resp.headers.get("Content-Type", "")
                retry_after = resp.headers.get("Retry-After")
        except TimeoutError as exc:
            raise UpstreamTimeout(
                self.source, "upstream timed out", method=method, url=url
            ) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(
                self.source, f"upstream unreachable: {type(exc).__name__}", method=method, url=url
            ) from exc
        body: Any
        if raw and ("json" in content_type or raw[:1] in (b"{", b"[")):
            loads = decode if decode is not None and status < 400 else self._loads
            try:
                body = loads(raw)
            except ValueError as exc:
                if status < 400:
                    raise UpstreamBadResponse(
                        self.source,
                        "invalid JSON",
                        status=status,
                        method=method,
                        url=url,
                        body=_text(raw),
                    ) from exc
                body = _text(raw)
        elif not raw:
            body = None
        else:
            body = _text(raw)
        # The text is for errors: a successful JSON answer is not decoded twice.
        text = _text(raw) if status >= 400 else ""
        return _Answer(status, body, text, retry_after)
