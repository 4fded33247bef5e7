"""Requests whose JSON is decoded with exact decimals.

``UpstreamHTTP.request`` decodes with orjson, which turns ``49.95`` into a float; TimeTap
amounts are money, so these calls read the response text and decode fractions as
``Decimal``. Status still becomes an exception only through ``errors.error_for_status``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import aiohttp

from ...errors import UpstreamBadResponse, UpstreamTimeout, UpstreamUnavailable, error_for_status
from ...http import Params, UpstreamHTTP
from ...trace import current_trace
from .auth import KEY_HEADER, TimeTapAuth, parse_errors

SOURCE = "timetap"


def loads(text: str) -> Any:
    """Decode TimeTap JSON with every fractional number as an exact Decimal."""
    return json.loads(text, parse_float=Decimal)


async def call(
    http: UpstreamHTTP,
    auth: TimeTapAuth,
    key_index: int,
    method: str,
    path: str,
    params: Params | None = None,
) -> Any:
    """One authenticated call for API key ``key_index``; a 401 replays it once with a new token."""
    url = http.base_url + path
    for attempt in (1, 2):
        headers = {"Accept": "application/json", KEY_HEADER: str(key_index)}
        query: dict[str, str | int] = dict(params or {})
        await auth.apply(http, headers, query)
        status, text = await _send(http, method, url, query, headers)
        if status == 401 and attempt == 1:
            auth.invalidate_key(key_index)
            continue
        if status >= 400:
            try:
                body = loads(text)
            except ValueError:
                body = None
            raise error_for_status(
                SOURCE,
                status,
                method=method,
                url=url,
                body=text,
                details=parse_errors(status, body),
            )
        try:
            return loads(text) if text else None
        except ValueError as exc:
            raise UpstreamBadResponse(
                SOURCE, "invalid JSON", status=status, method=method, url=url, body=text
            ) from exc
    raise AssertionError("unreachable")


async def _send(
    http: UpstreamHTTP, method: str, url: str, params: dict[str, str | int], headers: dict[str, str]
) -> tuple[int, str]:
    trace = current_trace.get()
    if trace is not None:
        trace.record(SOURCE)
    query = {k: str(v) for k, v in params.items()}
    try:
        async with http.session.request(method, url, params=query, headers=headers) as resp:
            raw = await resp.read()
            return resp.status, raw.decode("utf-8", "replace")
    except TimeoutError as exc:
        raise UpstreamTimeout(SOURCE, "upstream timed out", method=method, url=url) from exc
    except aiohttp.ClientError as exc:
        raise UpstreamUnavailable(
            SOURCE, f"upstream unreachable: {type(exc).__name__}", method=method, url=url
        ) from exc
