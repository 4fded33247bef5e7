"""Webhooks: what the sources announce, verified, recorded, then published.

``POST /webhooks/fitnessforce`` takes UFP's webhooks and ``POST /webhooks/clubcollect``
ClubCollect's notifications. Each is checked before anything else is done with it:

1. its HMAC signature (``signing.py``) with the source's secret, over the exact body;
   a signed timestamp outside the window is refused, so a captured delivery cannot be
   played again later (401 ``invalid_signature``, saying why);
2. its delivery id (the source's ``...-Delivery`` header), the key under which the
   journal records it: a delivery recorded already is a redelivery, answered 200
   ``duplicate`` without a second event (the source retries what it did not see
   answered);
3. its body (400 for a body that is not the source's).

It is answered 2xx only once it is recorded durably (``events/journal.py``). Then its
events are published to subscribers, in this process or, with Redis, in every replica,
after the entities they name left the shared cache. A FitnessForce webhook names its
change; a ClubCollect notification names invoice ids only: the recorded notification
is answered at once, and the invoices are read (and the invoice index brought up to
date) in the background, each change becoming an event then.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .cache import Cache
from .connectors.base import Connector
from .connectors.clubcollect import ClubCollectConnector
from .connectors.clubcollect import credentials as clubcollect_credentials
from .connectors.clubcollect import notifications as clubcollect
from .connectors.fitnessforce import credentials as fitnessforce_credentials
from .connectors.fitnessforce import webhooks as fitnessforce
from .domain import EntityType, Source
from .events.hub import EventHub
from .http import loads_exact
from .settings import Settings
from .signing import SignatureError, verify

log = logging.getLogger("clubgraph.webhooks")

# A delivery id is the source's: letters, digits and a few separators, not too long.
_DELIVERY = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class WebhookState(Protocol):
    """What the routes need of the running app."""

    settings: Settings
    connectors: dict[Source, Connector]
    cache: Cache | None
    events: EventHub | None


def webhook_secrets(settings: Settings, source: Source) -> tuple[str, ...]:
    """The secrets that verify ``source``'s webhooks: the configured ones, else the
    sandbox's development secret when the source runs on development credentials."""
    configured = {
        Source.FITNESSFORCE: settings.fitnessforce_webhook_secrets,
        Source.CLUBCOLLECT: settings.clubcollect_webhook_secrets,
    }[source]
    if configured:
        return configured
    development = {
        Source.FITNESSFORCE: fitnessforce_credentials.DEV_WEBHOOK_SECRET,
        Source.CLUBCOLLECT: clubcollect_credentials.DEV_WEBHOOK_SECRET,
    }[source]
    on_development = settings.embedded_sandbox or any(
        s.source is source and s.credentials is None for s in settings.sources
    )
    return (development,) if on_development else ()


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status)


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.response = _error(status, code, message)


async def _verified(
    request: Request, state: WebhookState, source: Source, signature: str, delivery: str
) -> tuple[bytes, str, int]:
    """The body, delivery id and signed time of a webhook that passed the checks."""
    secrets = webhook_secrets(state.settings, source)
    if not secrets or state.events is None:
        raise _Refused(
            503,
            "webhooks_not_configured",
            f"No webhook secret is configured for {source.value}.",
        )
    body = await request.body()
    try:
        signed_at = verify(
            secrets,
            request.headers.get(signature),
            body,
            now=time.time(),
            tolerance_s=state.settings.webhook_tolerance_s,
        )
    except SignatureError as exc:
        raise _Refused(401, "invalid_signature", str(exc)) from None
    delivery_id = request.headers.get(delivery, "")
    if not _DELIVERY.fullmatch(delivery_id):
        raise _Refused(400, "invalid_delivery_id", f"The {delivery} header is missing or invalid.")
    return body, delivery_id, signed_at


def _decoded(body: bytes) -> Any:
    try:
        return loads_exact(body)
    except ValueError:
        raise _Refused(400, "invalid_json", "The body is not JSON.") from None


def webhook_routes(get_state: Callable[[], WebhookState]) -> list[Route]:
    """The webhook routes over the running app's state."""
    background: set[asyncio.Task[None]] = set()

    async def fitnessforce_webhook(request: Request) -> JSONResponse:
        state = get_state()
        try:
            body, delivery_id, signed_at = await _verified(
                request,
                state,
                Source.FITNESSFORCE,
                fitnessforce.SIGNATURE_HEADER,
                fitnessforce.DELIVERY_HEADER,
            )
            try:
                events = fitnessforce.parse_webhook(_decoded(body), delivery_id)
            except fitnessforce.InvalidWebhook as exc:
                raise _Refused(400, "invalid_webhook", str(exc)) from None
        except _Refused as refused:
            return refused.response
        hub = state.events
        assert hub is not None
        recorded = await hub.journal.record(
            Source.FITNESSFORCE.value, delivery_id, body, events, signed_at=signed_at
        )
        if recorded is None:
            return JSONResponse({"status": "duplicate", "delivery_id": delivery_id})
        await hub.announce(recorded)
        return JSONResponse(
            {"status": "recorded", "delivery_id": delivery_id, "events": len(recorded)}
        )

    async def clubcollect_webhook(request: Request) -> JSONResponse:
        state = get_state()
        connector = state.connectors.get(Source.CLUBCOLLECT)
        if not isinstance(connector, ClubCollectConnector):
            return _error(404, "source_not_configured", "ClubCollect is not configured here.")
        try:
            body, delivery_id, signed_at = await _verified(
                request,
                state,
                Source.CLUBCOLLECT,
                clubcollect.SIGNATURE_HEADER,
                clubcollect.DELIVERY_HEADER,
            )
            try:
                notification = clubcollect.parse_notification(_decoded(body))
            except clubcollect.InvalidNotification as exc:
                raise _Refused(400, "invalid_notification", str(exc)) from None
            key = connector.partner_key
            if notification.api_key is not None and not hmac.compare_digest(
                notification.api_key.encode(), key.encode()
            ):
                raise _Refused(401, "unverified_notification", "The api_key is not ours.")
        except _Refused as refused:
            return refused.response
        hub = state.events
        assert hub is not None
        recorded = await hub.journal.record(
            Source.CLUBCOLLECT.value, delivery_id, body, [], signed_at=signed_at
        )
        if recorded is None:
            return JSONResponse({"status": "duplicate", "delivery_id": delivery_id})
        if state.cache is not None:
            ids = notification.invoice_ids
            await state.cache.invalidate_ids(Source.CLUBCOLLECT, EntityType.INVOICE, ids)
        applied = connector.notified(notification)
        task = asyncio.get_running_loop().create_task(_announce_changes(hub, delivery_id, applied))
        background.add(task)
        task.add_done_callback(background.discard)
        return JSONResponse(
            {
                "status": "accepted",
                "delivery_id": delivery_id,
                "invoice_ids": len(notification.invoice_ids),
                "import_ids": len(notification.import_ids),
            }
        )

    return [
        Route("/webhooks/fitnessforce", fitnessforce_webhook, methods=["POST"]),
        Route("/webhooks/clubcollect", clubcollect_webhook, methods=["POST"]),
    ]


async def _announce_changes(
    hub: EventHub, delivery_id: str, applied: asyncio.Task[list[clubcollect.InvoiceChange]]
) -> None:
    """The events of a ClubCollect notification, once its invoices were read."""
    try:
        changes = await asyncio.shield(applied)
    except Exception:  # logged where the index is updated
        return
    events = clubcollect.change_events(delivery_id, changes, datetime.now(UTC))
    recorded = await hub.journal.record_found(Source.CLUBCOLLECT.value, events)
    await hub.announce(recorded)
