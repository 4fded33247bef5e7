"""Webhooks: upstream change notifications that keep clubgraph's own indexes current.

``POST /webhooks/clubcollect`` takes ClubCollect's notification body, answers 200 at
once (ClubCollect sends unconfirmed ids again in its next round) and then, in the
background, reads each named invoice and import and updates the invoice index. The
named invoices leave the shared cache before the answer, for every scope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .cache import Cache
from .connectors.base import Connector
from .connectors.clubcollect import ClubCollectConnector
from .connectors.clubcollect.notifications import (
    InvalidNotification,
    Notification,
    parse_notification,
)
from .domain import EntityType, Source

# Decides whether a notification really comes from ClubCollect.
Verifier = Callable[[Request, Notification], Awaitable[bool]]


async def unverified(request: Request, notification: Notification) -> bool:
    """Accept every notification.

    The seam for verification (a later change): ClubCollect puts the partner's
    ``api_key`` in the body for this purpose, so a verifier compares
    ``notification.api_key`` with the configured key in constant time.
    """
    return True


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status)


def webhook_routes(
    get_connectors: Callable[[], Mapping[Source, Connector]],
    *,
    verify: Verifier = unverified,
    get_cache: Callable[[], Cache | None] = lambda: None,
) -> list[Route]:
    """The webhook routes; ``get_connectors`` gives the connectors open right now,
    ``get_cache`` the shared cache (None when off)."""

    async def clubcollect(request: Request) -> JSONResponse:
        connector = get_connectors().get(Source.CLUBCOLLECT)
        if not isinstance(connector, ClubCollectConnector):
            return _error(404, "source_not_configured", "ClubCollect is not configured here.")
        body: Any
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _error(400, "invalid_json", "The body is not JSON.")
        try:
            notification = parse_notification(body)
        except InvalidNotification as exc:
            return _error(400, "invalid_notification", str(exc))
        if not await verify(request, notification):
            return _error(401, "unverified_notification", "The notification is not verified.")
        cache = get_cache()
        if cache is not None:
            ids = notification.invoice_ids
            await cache.invalidate_ids(Source.CLUBCOLLECT, EntityType.INVOICE, ids)
        connector.notified(notification)
        return JSONResponse(
            {
                "status": "accepted",
                "invoice_ids": len(notification.invoice_ids),
                "import_ids": len(notification.import_ids),
            }
        )

    return [Route("/webhooks/clubcollect", clubcollect, methods=["POST"])]
