"""UFP client routes: get, list, and the client search endpoints.

The seed index names "Retrieves all client for a Tenant", "Gets client by ID" and,
under Search, "Perform Client Search" and "Search clients by tenant"; their paths
and parameters are inferred in the style of the documented endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from ..core import json_response
from .responses import STATE, UfpError, client_of, ordered, paged, sort_order, tenant_of
from .state import JSON


def _name(client: JSON) -> str:
    return str(client["full_name"] or "").casefold()


# inferred: the sort_by values of client lists (default client_id asc).
_SORTS: dict[str, Callable[[JSON], Any]] = {
    "full_name": _name,
    "client_id": lambda c: c["client_id"],
    "created_date": lambda c: datetime.fromisoformat(c["created_date"]),
}


def _sorted(request: web.Request, rows: list[JSON], default: str) -> list[JSON]:
    """``rows`` in the requested order, ties by client id in the same direction."""
    field = request.query.get("sort_by", default)
    if field not in _SORTS:
        raise UfpError(400, "InvalidSortField", f"cannot sort clients by {field}", "sort_by")
    return ordered(rows, _SORTS[field], "client_id", sort_order(request, "asc"))


def _matching(request: web.Request, rows: list[JSON]) -> list[JSON]:
    """The clients a search selects.

    inferred: ``search_text`` is a case-insensitive substring of the full name or the
    email; ``email`` is an exact email, compared trimmed and case-insensitively. Both
    given: both must match. A search needs at least one of them.
    """
    text = request.query.get("search_text", "").strip().casefold()
    email = request.query.get("email", "").strip().lower()
    if not text and not email:
        raise UfpError(400, "SearchCriteriaRequired", "give search_text or email", "search_text")

    def hit(client: JSON) -> bool:
        own = client["email"] or ""
        if email and own.strip().lower() != email:
            return False
        return not text or text in _name(client) or text in own.casefold()

    return [c for c in rows if hit(c)]


async def list_clients(request: web.Request) -> web.Response:
    # inferred path: GET /tenant/{tenant_id}/clients ("Retrieves all client for a Tenant").
    state = request.app[STATE]
    tenant = tenant_of(state, request)
    rows = [c for c in state.clients.values() if c["tenant_id"] == tenant["tenant_id"]]
    return paged(request, _sorted(request, rows, "client_id"))


async def search_tenant_clients(request: web.Request) -> web.Response:
    # inferred path: GET /tenant/{tenant_id}/clients/search ("Search clients by tenant"),
    # paged and sorted like the client list (default by name).
    state = request.app[STATE]
    tenant = tenant_of(state, request)
    rows = [c for c in state.clients.values() if c["tenant_id"] == tenant["tenant_id"]]
    return paged(request, _sorted(request, _matching(request, rows), "full_name"))


async def search_clients(request: web.Request) -> web.Response:
    # inferred path: GET /clients/search ("Perform Client Search"): every tenant the
    # credentials reach, narrowed by an optional comma-separated ``tenant_id``.
    state = request.app[STATE]
    raw = request.query.get("tenant_id", "")
    wanted = {t.strip() for t in raw.split(",") if t.strip()}
    unknown = sorted(t for t in wanted if not t.isdigit() or int(t) not in state.tenants)
    if unknown:
        raise UfpError(404, "TenantNotFound", f"tenant {unknown[0]} not found", "tenant_id")
    rows = [c for c in state.clients.values() if not wanted or str(c["tenant_id"]) in wanted]
    return paged(request, _sorted(request, _matching(request, rows), "full_name"))


async def get_client(request: web.Request) -> web.Response:
    return json_response(client_of(request.app[STATE], request))


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/clients/search", search_clients)
    r.add_get("/tenant/{tenant_id}/clients", list_clients)
    # Before the client by id, which would take "search" for an id.
    r.add_get("/tenant/{tenant_id}/clients/search", search_tenant_clients)
    r.add_get("/tenant/{tenant_id}/clients/{client_id}", get_client)  # inferred path
