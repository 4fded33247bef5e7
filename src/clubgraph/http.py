"""The pooled HTTP client every connector talks through.

One ``UpstreamHTTP`` per source, opened and closed by the app lifespan. It applies
the source's authentication, decodes JSON, counts requests for tracing, and turns
non-2xx answers into exceptions through ``errors.error_for_status``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import urlencode

import aiohttp
import orjson

from .errors import SourceErrorDetail, UpstreamBadResponse, UpstreamTimeout, UpstreamUnavailable
from .errors import error_for_status as _error_for_status
from .trace import current_trace

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


def loads_exact(raw: bytes | str) -> Any:
    """JSON with every number that has a fraction or exponent as an exact Decimal."""
    return json.loads(raw, parse_float=Decimal)


def _no_details(status: int, body: Any) -> Sequence[SourceErrorDetail]:
    return ()


class UpstreamHTTP:
    """One source's base URL, pooled session and authentication."""

    def __init__(
        self,
        source: str,
        base_url: str,
        *,
        auth: Auth | None = None,
        error_parser: ErrorParser = _no_details,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        pool_size: int = 64,
        exact_decimals: bool = False,
    ) -> None:
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.auth: Auth = auth or NoAuth()
        self._error_parser = error_parser
        self._timeout = aiohttp.ClientTimeout(sock_connect=connect_timeout, sock_read=read_timeout)
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
    ) -> Any:
        """Send one request and return its decoded JSON (or text), raising on non-2xx.

        ``form`` sends an ``application/x-www-form-urlencoded`` body instead of ``json``.
        ``auth`` overrides the client's authentication for this call (a source with one
        credential per tenant). A 401 on an authenticated call invalidates the token and
        replays the call once.
        """
        scheme = auth or self.auth
        for attempt in (1, 2):
            hdrs = {"Accept": "application/json", **(headers or {})}
            prm: dict[str, str | int] = dict(params or {})
            if authenticate:
                await scheme.apply(self, hdrs, prm)
            status, body, text = await self._send(method, path, prm, json, form, hdrs)
            if status == 401 and authenticate and attempt == 1:
                scheme.invalidate(hdrs)
                continue
            if status >= 400:
                raise _error_for_status(
                    self.source,
                    status,
                    method=method,
                    url=self.base_url + path,
                    body=text,
                    details=self._error_parser(status, body),
                )
            return body
        raise AssertionError("unreachable")

    async def _send(
        self,
        method: str,
        path: str,
        params: dict[str, str | int],
        json: Any,
        form: Mapping[str, str] | None,
        headers: dict[str, str],
    ) -> tuple[int, Any, str]:
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
                method, url, params=query, data=data, headers=headers
            ) as resp:
                raw = await resp.read()
                status = resp.status
                content_type = resp.headers.get("Content-Type", "")
        except TimeoutError as exc:
            raise UpstreamTimeout(
                self.source, "upstream timed out", method=method, url=url
            ) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(
                self.source, f"upstream unreachable: {type(exc).__name__}", method=method, url=url
            ) from exc
        text = raw.decode("utf-8", "replace")
        body: Any = text
        if raw and ("json" in content_type or raw[:1] in (b"{", b"[")):
            try:
                body = self._loads(raw)
            except ValueError as exc:
                if status < 400:
                    raise UpstreamBadResponse(
                        self.source,
                        "invalid JSON",
                        status=status,
                        method=method,
                        url=url,
                        body=text,
                    ) from exc
        elif not raw:
            body = None
        return status, body, text
