"""UFP response shapes: ValidationError bodies, paged envelopes, request parsing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from aiohttp import web

from ..core import json_response
from .state import JSON, FitnessForceState

MAX_PAGE_SIZE = 200
STATE: web.AppKey[FitnessForceState] = web.AppKey("fitnessforce_state")


class UfpError(Exception):
    """A refusal carrying UFP ValidationError objects; the app turns it into a response."""

    def __init__(self, status: int, code: str, message: str, identifier: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.errors = [validation_error(code, message, identifier)]


def validation_error(code: str, message: str, identifier: str | None = None) -> JSON:
    """One UFP ValidationError object (the documented shape)."""
    return {
        "severity": "Error",
        "errorCode": code,
        "errorMessage": message,
        "identifier": identifier,
        "helptext": None,
        "jsonObject": None,
    }


def error_response(status: int, errors: list[JSON], **kwargs: Any) -> web.Response:
    # inferred: 4xx bodies wrap ValidationError objects as {"errors": [...]}.
    return json_response({"errors": errors}, status, **kwargs)


def path_int(request: web.Request, name: str) -> int:
    """An integer path parameter; non-numeric ids are refused as UFP does."""
    raw = request.match_info[name]
    if not raw.isdigit():
        raise UfpError(400, "InvalidIdentifier", f"{name} must be an integer", name)
    return int(raw)


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        code = "InvalidPageSize" if name == "page_size" else "InvalidPageNumber"
        raise UfpError(400, code, f"{name} must be between {low} and {high}", name)
    return int(raw)


def paged(request: web.Request, rows: list[JSON]) -> web.Response:
    """One page of ``rows`` in the (inferred) UFP list envelope."""
    # inferred: 1-based page_number, page_size up to 200 (default 25), total_records.
    number = query_int(request, "page_number", 1, 1, 1_000_000)
    size = query_int(request, "page_size", 25, 1, MAX_PAGE_SIZE)
    start = (number - 1) * size
    return json_response(
        {
            "page_number": number,
            "page_size": size,
            "total_records": len(rows),
            "total_pages": (len(rows) + size - 1) // size,
            "data": rows[start : start + size],
        }
    )


def ordered(rows: list[JSON], value: Callable[[JSON], Any], ident: str, desc: bool) -> list[JSON]:
    """``rows`` by (value, id), both reversed when descending: ties always in id order."""
    return sorted(rows, key=lambda row: (value(row), row[ident]), reverse=desc)


def query_date(request: web.Request, name: str) -> date | None:
    """A ``YYYY-MM-DD`` query parameter."""
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        # fromisoformat alone would also take the basic form (20250131).
        if len(raw) == 10 and raw[4] == raw[7] == "-":
            return date.fromisoformat(raw)
    except ValueError:
        pass
    raise UfpError(400, "InvalidDate", f"{name} must be a date (YYYY-MM-DD)", name)


def query_flag(request: web.Request, name: str) -> bool:
    """A ``true``/``false`` query parameter (absent is false)."""
    raw = request.query.get(name, "false").lower()
    if raw not in ("true", "false"):
        raise UfpError(400, "InvalidBoolean", f"{name} must be true or false", name)
    return raw == "true"


def sort_order(request: web.Request, default: str) -> bool:
    """True when ``sort_order`` asks for descending order."""
    order = request.query.get("sort_order", default).lower()
    if order not in ("asc", "desc"):
        raise UfpError(400, "InvalidSortOrder", "sort_order must be asc or desc", "sort_order")
    return order == "desc"


async def json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError as exc:
        raise UfpError(400, "InvalidRequestBody", "request body is not valid JSON") from exc


def body_date(body: Any, name: str, *, required: bool = True) -> date | None:
    """A ``YYYY-MM-DD`` field of a JSON object body."""
    raw = body.get(name) if isinstance(body, dict) else None
    if raw is None:
        if required:
            raise UfpError(400, "FieldRequired", f"{name} is required", name)
        return None
    try:
        return date.fromisoformat(raw)
    except (TypeError, ValueError) as exc:
        raise UfpError(400, "InvalidDate", f"{name} must be a date (YYYY-MM-DD)", name) from exc


def body_text(body: Any, name: str) -> str:
    raw = body.get(name) if isinstance(body, dict) else None
    if not isinstance(raw, str) or not raw.strip():
        raise UfpError(400, "FieldRequired", f"{name} is required", name)
    return raw.strip()


def tenant_of(state: FitnessForceState, request: web.Request) -> JSON:
    tenant_id = path_int(request, "tenant_id")
    tenant = state.tenants.get(tenant_id)
    if tenant is None:
        raise UfpError(404, "TenantNotFound", f"tenant {tenant_id} not found", "tenant_id")
    return tenant


def client_of(state: FitnessForceState, request: web.Request) -> JSON:
    tenant = tenant_of(state, request)
    client_id = path_int(request, "client_id")
    client = state.clients.get(client_id)
    if client is None or client["tenant_id"] != tenant["tenant_id"]:
        raise UfpError(404, "ClientNotFound", f"client {client_id} not found", "client_id")
    return client
