"""Notifications to the partner: the changes a round would name, and delivering one.

ClubCollect notifies partners of changed invoices and imports in rounds (every ten
minutes) by POSTing ``{"api_key", "invoice_ids", "import_ids"}`` to the partner's
endpoint, and names again in the next round whatever was not answered with 200.
The sandbox notes every id its write endpoints change; a test or a developer asks
it to run a round now, to a URL of their choice (the sandbox has no clock of its own).
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from ..core import json_response
from .protocol import PARTNER_KEY, Refused, json_body, state_of


def pending(request: web.Request) -> dict[str, Any]:
    """The body the next round would send."""
    state = state_of(request)
    return {
        "api_key": request.app[PARTNER_KEY],
        "invoice_ids": list(state.changed_invoices),
        "import_ids": list(state.changed_imports),
    }


async def show_pending(request: web.Request) -> web.Response:
    """``GET /__sandbox/notifications``: what the next round would send."""
    return json_response(pending(request))


async def deliver(request: web.Request) -> web.Response:
    """``POST /__sandbox/notifications/deliver`` with ``{"url": ...}``: run a round now.

    Ids are forgotten only when the partner answers 200, as ClubCollect does.
    """
    target = (await json_body(request)).get("url")
    if not isinstance(target, str) or not target.startswith(("http://", "https://")):
        raise Refused(422, "invalid_url")
    body = pending(request)
    if not body["invoice_ids"] and not body["import_ids"]:
        return json_response({"status": None, "sent": body})
    timeout = aiohttp.ClientTimeout(total=10)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(target, json=body) as resp,
        ):
            status = resp.status
    except (aiohttp.ClientError, TimeoutError):
        status = None
    if status == 200:
        state = state_of(request)
        for invoice_id in body["invoice_ids"]:
            state.changed_invoices.pop(invoice_id, None)
        for import_id in body["import_ids"]:
            state.changed_imports.pop(import_id, None)
    return json_response({"status": status, "sent": body})
