"""The TimeTap sandbox server.

Documented (TimeTap's Invoices and Invoice Item API pages): ``GET /invoices/status/
{statusString}`` (OPEN, CLOSED, VOID) with ``pageNumber``/``pageSize``,
``order_field``/``order_mode`` and the ``invoiceStartDate``/``invoiceEndDate``/
``chargeStartDate``/``chargeEndDate`` filters; ``GET /invoices/{invoiceId}``;
``GET /invoices/client/{clientId}``; ``POST /invoices``; ``POST /invoices/client/
{clientId}?invoiceType=INVOICE|QUOTE`` (an array of items); ``PUT /invoices`` (a status
change needs subStatus "Manual"); ``DELETE /invoices/{invoiceId}`` (soft delete:
``active=false``); ``GET /invoiceItem/client/{clientId}/uninvoiced``, ``/product/
{productId}``, ``/recurringAppointments/{id}``, ``/appointment/{calendarId}``;
``GET /invoiceItemList/reportWithCount``; ``POST /invoiceItems``; ``POST /invoiceItem``;
``PUT /invoiceItem``; ``DELETE /invoiceItem/{invoiceItemId}`` (soft delete). camelCase,
``businessId``, dates in epoch milliseconds, invoices embedding ``client`` and
``invoiceItem``, statuses and subStatuses, the invoice and item properties.
Documented in TimeTap's introduction: ``GET /sessionToken?apiKey&timestamp&signature``
(signature = MD5 hex of apiKey + privateKey, timestamp in seconds), then the token as
the Authorization header; one API key per business. From the Clients API page:
``GET /clients``, ``GET /clients/{clientId}``, ``GET /clientList/reportWithCount``.

Inferred (marked ``# inferred:`` where implemented): the session token's JSON shape
and lifetime (``token_ttl_s``), ``Bearer`` in the Authorization header, the
timestamp window; the error body ``{"errors": [{"errorCode", "errorMessage",
"fieldName"}]}`` and its codes; ``pageNumber`` starting at 1 and at most 500 rows a
page, and every row when no paging parameter is given; the ``order_field`` values,
ties broken by the id in the same direction, and the date filters as whole UTC days
(end day included); the client list's ``order_field``/``order_mode``,
``searchString`` (part of the name or email, any case) and ``emailAddress`` (the
whole address, any case) filters and its ``{"count", "clientList"}`` body;
``GET /business``; the item properties ``itemType``, ``taxAmount`` and
``tax2Amount``; that a soft-deleted invoice is still readable by id; which
properties a PUT may change, and that a VOID or CLOSED invoice's properties change
only when it is reopened; that errors about one line of an array body name it as
``[n].property``; that an empty array of lines is refused. Appointments and
recurring appointments themselves (``/appointments/...``, ``/recurringAppointments/...``)
are not modelled.

Sandbox only: ``POST /__sandbox/simulate/payment`` (``payments.py``): a client pays an
invoice at the front desk. TimeTap sends no webhooks; the change shows in what the
reads answer (``lastStatusDate`` moves), for a poller to find.
"""

from __future__ import annotations

import hashlib
import time
import uuid

from aiohttp import web

from ..core import Handler, json_response, new_app
from . import payments
from .data import build_state
from .invoices import create_client_invoice, create_invoice, delete_invoice, update_invoice
from .items import create_item, create_items, delete_item, update_item
from .model import STATE, Session
from .openapi import install_openapi
from .problems import Problem, TimeTapProblem, bad_request
from .reads import (
    BUSINESS,
    client_invoices,
    client_report,
    get_business,
    get_client,
    get_invoice,
    invoices_by_status,
    item_report,
    items_by_appointment,
    items_by_product,
    items_by_recurring,
    list_clients,
    uninvoiced_items,
)

# inferred: how far a sessionToken request's timestamp may be from the server clock.
TIMESTAMP_WINDOW_S = 300


def _refuse(code: str, message: str) -> TimeTapProblem:
    return TimeTapProblem(401, Problem(code, message))


@web.middleware
async def _problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except TimeTapProblem as problem:
        return json_response(problem.body(), status=problem.status)


@web.middleware
async def _session(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path == "/sessionToken" or request.path.startswith("/__sandbox/"):
        return await handler(request)
    state = request.app[STATE]
    header = request.headers.get("Authorization", "")
    # inferred: the token travels as a Bearer credential.
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _refuse("SESSION_TOKEN_MISSING", "An Authorization session token is required")
    session = state.sessions.get(token)
    if session is None:
        raise _refuse("INVALID_SESSION_TOKEN", "The session token is not valid")
    if session.expires_at <= time.time():
        del state.sessions[token]
        raise _refuse("SESSION_TOKEN_EXPIRED", "The session token has expired")
    request[BUSINESS] = session.business_id
    return await handler(request)


async def session_token(request: web.Request) -> web.Response:
    """``GET /sessionToken``: exchange a signed API key for a session token."""
    state = request.app[STATE]
    query = request.query
    for name in ("apiKey", "timestamp", "signature"):
        if not query.get(name):
            raise bad_request("REQUIRED_FIELD_MISSING", f"{name} is required", name)
    business = state.business_by_key(query["apiKey"])
    if business is None:
        raise _refuse("INVALID_API_KEY", "Unknown apiKey")
    try:
        stamp = int(query["timestamp"])
    except ValueError:
        raise bad_request(
            "INVALID_TIMESTAMP", "timestamp is seconds since 1970", "timestamp"
        ) from None
    if abs(time.time() - stamp) > TIMESTAMP_WINDOW_S:
        raise _refuse("INVALID_TIMESTAMP", "timestamp is too far from the server clock")
    expected = hashlib.md5((business.api_key + business.private_key).encode()).hexdigest()
    if query["signature"].lower() != expected:
        raise _refuse("INVALID_SIGNATURE", "signature does not match apiKey")
    token = f"st:api:api:{uuid.uuid4().hex}"
    state.sessions[token] = Session(business.business_id, time.time() + state.token_ttl_s)
    # inferred: the token comes back as {"sessionToken": ...}.
    return json_response({"sessionToken": token})


def create_app(
    *, seed: int = 7, latency_ms: int = 0, token_ttl_s: float = 3600.0
) -> web.Application:
    """The TimeTap sandbox application over freshly seeded state."""
    app = new_app(latency_ms)
    app.middlewares.append(_problems)
    app.middlewares.append(_session)
    app[STATE] = build_state(seed, token_ttl_s=token_ttl_s)
    r = app.router
    r.add_get("/sessionToken", session_token)
    # inferred: how a client learns which business its API key belongs to.
    r.add_get("/business", get_business)
    # inferred: the client routes follow TimeTap's Clients API page, not the seed.
    r.add_get("/clients", list_clients)
    r.add_get("/clients/{clientId}", get_client)
    r.add_get("/clientList/reportWithCount", client_report)
    r.add_get("/invoices/status/{statusString}", invoices_by_status)
    r.add_get("/invoices/client/{clientId}", client_invoices)
    r.add_get("/invoices/{invoiceId}", get_invoice)
    r.add_post("/invoices", create_invoice)
    r.add_post("/invoices/client/{clientId}", create_client_invoice)
    r.add_put("/invoices", update_invoice)
    r.add_delete("/invoices/{invoiceId}", delete_invoice)
    r.add_get("/invoiceItem/client/{clientId}/uninvoiced", uninvoiced_items)
    r.add_get("/invoiceItem/product/{productId}", items_by_product)
    r.add_get("/invoiceItem/recurringAppointments/{recurringAppointmentId}", items_by_recurring)
    r.add_get("/invoiceItem/appointment/{calendarId}", items_by_appointment)
    r.add_get("/invoiceItemList/reportWithCount", item_report)
    r.add_post("/invoiceItems", create_items)
    r.add_post("/invoiceItem", create_item)
    r.add_put("/invoiceItem", update_item)
    r.add_delete("/invoiceItem/{invoiceItemId}", delete_item)
    payments.add_routes(app)
    install_openapi(app)
    return app
