"""Paging and sorting parameters shared by the sandbox's list routes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from aiohttp import web

from ..core import json_response
from .replies import fail

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50


def int_param(request: web.Request, name: str, default: int | None = None) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        fail(400, "INVALID_VALUE", f"{name} must be an integer")


def bool_param(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if raw not in ("true", "false"):
        fail(400, "INVALID_VALUE", f"{name} must be true or false")
    return raw == "true"


def date_param(request: web.Request, name: str) -> str | None:
    """A ``YYYY-MM-DD`` parameter, as that text (ISO dates order as text)."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        valid = len(raw) == 10 and date.fromisoformat(raw).isoformat() == raw
    except ValueError:
        valid = False
    if not valid:
        fail(400, "INVALID_DATE", f"{name} must be a date (YYYY-MM-DD)")
    return raw


def choice_param(request: web.Request, name: str, allowed: Sequence[str], default: str) -> str:
    raw = request.query.get(name, default)
    if raw not in allowed:
        fail(400, "INVALID_VALUE", f"{name} must be one of {', '.join(allowed)}")
    return raw


def page_of(
    request: web.Request,
    rows: list[dict[str, Any]],
    sort_keys: dict[str, Callable[[dict[str, Any]], Any]],
    default_sort: str,
    default_direction: str,
) -> web.Response:
    """Sort, then cut one page (``page`` counts from 1, ``pageSize`` up to 500).

    Every sort key ends with the id, and a descending sort reverses the whole key, so
    rows with equal values come in id order in the sort's direction and every page
    boundary is deterministic, also across writes.
    """
    # inferred: page/pageSize/sort/sortDirection are not in the v5 reference.
    page = int_param(request, "page", 1) or 1
    size = int_param(request, "pageSize", DEFAULT_PAGE_SIZE) or 0
    if page < 1:
        fail(400, "INVALID_VALUE", "page must be >= 1")
    if not 1 <= size <= MAX_PAGE_SIZE:
        fail(400, "INVALID_VALUE", f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
    sort = choice_param(request, "sort", tuple(sort_keys), default_sort)
    direction = choice_param(request, "sortDirection", ("ASC", "DESC"), default_direction)
    ordered = sorted(rows, key=sort_keys[sort], reverse=direction == "DESC")
    start = (page - 1) * size
    return json_response(
        {
            "data": ordered[start : start + size],
            "page": page,
            "pageSize": size,
            "totalCount": len(ordered),
        }
    )
