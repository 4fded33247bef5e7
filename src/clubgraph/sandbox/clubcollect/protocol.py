"""What every ClubCollect sandbox route shares: auth, error bodies, paging, JSON bodies."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from .. import core
from ..core import json_response
from .data import State

STATE: web.AppKey[State] = web.AppKey("clubcollect_state", State)
API_KEYS: web.AppKey[frozenset[str]] = web.AppKey("clubcollect_api_keys", frozenset)
# The partner key that notifications carry in their body.
PARTNER_KEY: web.AppKey[str] = web.AppKey("clubcollect_partner_key", str)


class Refused(Exception):
    """A request the API answers with an error code."""

    def __init__(self, status: int, code: str, key: str = "error") -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.key = key


@web.middleware
async def auth(request: web.Request, handler: core.Handler) -> web.StreamResponse:
    """Refuse /api/ requests without an accepted partner key; render refusals."""
    if request.path.startswith("/api/"):
        header = request.headers.get("Authorization", "")
        key = header[len("ApiKey ") :].strip() if header.startswith("ApiKey ") else ""
        # The query parameter is deprecated but still honoured.
        key = key or request.query.get("api_key", "")
        if key not in request.app[API_KEYS]:
            return json_response({"error": "unauthorized"}, 401)  # inferred: body
    # Sandbox controls refuse in the same shape (they need no key).
    try:
        return await handler(request)
    except Refused as exc:
        return json_response({exc.key: exc.code}, exc.status)


def state_of(request: web.Request) -> State:
    """The app's mutable data."""
    return request.app[STATE]


def paging(request: web.Request) -> tuple[int, int]:
    """``page_number`` (from 1) and ``page_size`` (default 30)."""
    try:
        page = max(int(request.query.get("page_number", "1")), 1)
        size = min(max(int(request.query.get("page_size", "30")), 1), 100)
    except ValueError:
        raise Refused(400, "invalid_paging") from None  # inferred
    return page, size


def page_of(items: list[Any], page: int, size: int) -> tuple[list[Any], dict[str, int]]:
    """One page of ``items`` and the ``page`` object."""
    total_pages = max((len(items) + size - 1) // size, 1)
    return items[(page - 1) * size : page * size], {"page_number": page, "total_pages": total_pages}


async def json_body(request: web.Request) -> dict[str, Any]:
    """The JSON object body; ``invalid_content_type`` unless sent as JSON."""
    if request.content_type != "application/json":
        raise Refused(422, "invalid_content_type")
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise Refused(400, "invalid_json") from None  # inferred
    if not isinstance(body, dict):
        raise Refused(400, "invalid_json")  # inferred
    return body


def invoice_of(request: web.Request) -> dict[str, Any]:
    """The invoice named by the path, or 404 ``invalid_invoice_id``."""
    invoice = state_of(request).invoices.get(request.match_info["id"])
    if invoice is None:
        raise Refused(404, "invalid_invoice_id")
    return invoice


def import_of(request: web.Request, key: str = "error") -> dict[str, Any]:
    """The import named by the path, or 404 ``invalid_import_id``."""
    imp = state_of(request).imports.get(request.match_info["id"])
    if imp is None:
        raise Refused(404, "invalid_import_id", key)
    return imp
