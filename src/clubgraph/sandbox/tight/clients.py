"""Clients and the business: list, get and create clients; the user's businesses."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..core import json_response
from .auth import require_token
from .listing import page_of
from .objects import iso_datetime
from .replies import FieldErrors, fail, json_body
from .state import STATE

_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
_SORTS = {
    "name": lambda c: (c["name"].casefold(), c["id"]),
    "createdDate": lambda c: (c["createdDate"], c["id"]),
}
_SEARCHED = ("name", "email")


async def list_businesses(request: web.Request) -> web.Response:
    """GET /v5/businesses (inferred): the businesses the token reaches."""
    require_token(request)
    return json_response({"data": [request.app[STATE].business]})


async def list_clients(request: web.Request) -> web.Response:
    """GET /v5/invoicing/clients (inferred path, paging and filters)."""
    require_token(request)
    rows = list(request.app[STATE].clients.values())
    # inferred: ``search`` matches a case-insensitive part of the name or the email.
    needle = request.query.get("search", "").strip().casefold()
    if needle:
        rows = [c for c in rows if any(needle in (c[f] or "").casefold() for f in _SEARCHED)]
    # inferred: ``email`` matches the whole email, trimmed and case-insensitively.
    email = request.query.get("email", "").strip().lower()
    if email:
        rows = [c for c in rows if (c["email"] or "").strip().lower() == email]
    return page_of(request, rows, _SORTS, "name", "ASC")


async def get_client(request: web.Request) -> web.Response:
    """GET /v5/invoicing/clients/{id} (inferred path)."""
    require_token(request)
    raw = request.match_info["id"]
    client = request.app[STATE].clients.get(int(raw)) if raw.isdigit() else None
    if client is None:
        fail(404, "NOT_FOUND", f"Client {raw} not found")
    return json_response(client)


async def create_client(request: web.Request) -> web.Response:
    """POST /v5/invoicing/client (inferred path): a new client of the business."""
    require_token(request)
    state = request.app[STATE]
    body = await json_body(request)
    errors = FieldErrors()
    first = (body.get("firstName") or "").strip()
    last = (body.get("lastName") or "").strip()
    name = (body.get("name") or f"{first} {last}").strip()
    if not name:
        errors.add("name", "REQUIRED", "name or firstName/lastName is required")
    email = body.get("email")
    if not email:
        errors.add("email", "REQUIRED", "email is required")
    elif not isinstance(email, str) or not _EMAIL.match(email):
        errors.add("email", "INVALID_EMAIL", "email is not a valid email address")
    elif any(c["email"].lower() == email.lower() for c in state.clients.values()):
        # documented error type (v4 globalErrors): DUPLICATE.
        errors.add(None, "DUPLICATE", f"A client with email {email} already exists")
    errors.raise_if_any()
    client: dict[str, Any] = {
        "id": state.next_client_id,
        "businessId": state.business["id"],
        "name": name,
        "firstName": first or None,
        "lastName": last or None,
        "email": email,
        "phone": body.get("phone"),
        "address1": body.get("address1"),
        "city": body.get("city"),
        "zip": body.get("zip"),
        "country": body.get("country"),
        "createdDate": iso_datetime(datetime.now(UTC)),
        "status": "ACTIVE",
    }
    state.next_client_id += 13
    state.clients[client["id"]] = client
    return json_response({"result": "SUCCESS", "clientId": client["id"], "client": client})
