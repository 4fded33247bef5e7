"""Notifications to the partner: rounds of changed ids, and one invoice in real time.

Documented: ClubCollect notifies partners of changed invoices and imports in rounds
(every ten minutes), and optionally in real time for one invoice, by POSTing
``{"api_key", "invoice_ids", "import_ids"}`` to the partner's endpoint; whatever was
not answered with 200 is named again in the next round.

The sandbox notes every id its write endpoints change. A test or a developer asks it
to run a round now, to a URL of their choice (``POST /__sandbox/notifications/deliver``;
the sandbox has no clock of its own). Once webhooks are configured (``POST
/__sandbox/webhooks``, see ``sandbox/webhooks.py``), every change of an invoice is
also notified in real time: ``{"api_key", "invoice_ids": [id], "import_ids": []}``,
retried like every sandbox webhook; an id answered 2xx leaves the next round, unless
it has changed again since.

Inferred: the headers. Every notification, round or real time, carries
``X-ClubCollect-Delivery`` (a uuid4 hex, the same when a real-time one is sent again)
and ``X-ClubCollect-Signature`` (``signing.signature_header`` over the body bytes,
with the development secret unless webhooks are configured with another).
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from ...connectors.clubcollect.credentials import DEV_WEBHOOK_SECRET
from .. import webhooks
from ..core import json_response
from .protocol import PARTNER_KEY, STATE, Refused, json_body, state_of

SCHEME = webhooks.Scheme(
    delivery_header="X-ClubCollect-Delivery",
    signature_header="X-ClubCollect-Signature",
    default_secret=DEV_WEBHOOK_SECRET,
)
# The event type real-time notifications are logged under (ClubCollect names none).
REAL_TIME = "invoice.notification"


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
    try:
        webhooks.check_url(target)
    except webhooks.BadConfig:
        raise Refused(422, "invalid_url") from None
    body = pending(request)
    if not body["invoice_ids"] and not body["import_ids"]:
        return json_response({"status": None, "sent": body, "delivery_id": None})
    state = state_of(request)
    seen = {i: state.versions.get(i, 0) for i in (*body["invoice_ids"], *body["import_ids"])}
    sender = request.app[webhooks.WEBHOOKS]
    delivery_id = uuid.uuid4().hex
    raw = orjson.dumps(body)
    headers = {**sender.headers(delivery_id), SCHEME.signature_header: sender.sign(raw)}
    timeout = aiohttp.ClientTimeout(total=10)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(str(target), data=raw, headers=headers) as resp,
        ):
            status = resp.status
    except (aiohttp.ClientError, TimeoutError):
        status = None
    if status == 200:
        state.notified(body["invoice_ids"], body["import_ids"], seen)
    return json_response({"status": status, "sent": body, "delivery_id": delivery_id})


def _notify_in_real_time(app: web.Application, invoice_ids: list[str]) -> None:
    """One real-time notification per changed invoice, when webhooks are configured."""
    sender = app[webhooks.WEBHOOKS]
    if sender.config is None:
        return
    state = app[STATE]
    for invoice_id in invoice_ids:
        body = {"api_key": app[PARTNER_KEY], "invoice_ids": [invoice_id], "import_ids": []}
        seen = {invoice_id: state.versions.get(invoice_id, 0)}
        confirmed = partial(state.notified, [invoice_id], (), seen)
        sender.post(REAL_TIME, partial(_as_is, body), on_delivered=confirmed)


def _as_is(body: dict[str, Any], delivery_id: str) -> dict[str, Any]:
    # ClubCollect's body has no place for the delivery id: only the header carries it.
    return body


def install(app: web.Application) -> None:
    """The webhook sender, its routes, and real-time notifications of changes."""
    webhooks.install(app, SCHEME)
    app[STATE].on_invoices_changed = lambda ids: _notify_in_real_time(app, ids)
