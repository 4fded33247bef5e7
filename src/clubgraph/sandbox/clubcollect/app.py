"""The ClubCollect API v2 sandbox.

Documented (ClubCollect API v2 documentation):
- ``Authorization: ApiKey <api_key>``; the deprecated ``api_key`` query parameter.
- ``GET /api/v2/companies/:id``; error ``{"errors": "not_found"}``.
- ``GET /api/v2/companies/:id/imports`` with ``page_number`` (from 1) and ``page_size``
  (default 30), oldest first, ``{"imports": [...], "page": {page_number, total_pages}}``.
- ``GET/PUT/DELETE /api/v2/imports/:id``, ``POST /api/v2/imports`` (``company_id`` in
  the body), ``PUT /api/v2/imports/:id/transmit``; codes ``invalid_import_id``,
  ``invalid_company_id``, ``import_already_transmitted``.
- ``GET/PUT/DELETE /api/v2/invoices/:id``, ``POST /api/v2/invoices``,
  ``POST /api/v2/invoices/:id/credit_and_retract``, ``GET /api/v2/invoices/:id/lines``;
  snake_case fields, ISO 8601 dates, integer cents; the create, update and retract
  error codes; lines never change after creation; DELETE only before transmission.
- Error bodies ``{"error": "<code>"}`` (``{"errors": ...}`` on some GETs).
- Notifications to the partner: ``{"api_key", "invoice_ids", "import_ids"}`` POSTed in
  rounds, ids named again until answered 200, and optionally in real time for one
  invoice (``notifications``; the sandbox runs a round on
  ``POST /__sandbox/notifications/deliver``).

Inferred (marked ``# inferred:`` below):
- ``GET /api/v2/companies`` (companies the partner key reaches, paged like imports).
- HTTP statuses: 401 ``{"error": "unauthorized"}``, 404 for unknown ids, 422 for
  validation codes, 400 ``{"error": "invalid_json"}`` for an unreadable body.
- Invoice fields ``status``, ``amount_paid_cents``, ``amount_open_cents``,
  ``created_at``, ``transmitted_at``, ``due_date``; ``company_id`` on an import.
- Codes ``invalid_invoice_lines``, ``invoice_lines_not_updatable``,
  ``invoice_already_transmitted``.
- The notifications' ``X-ClubCollect-Delivery`` and ``X-ClubCollect-Signature`` headers.

Sandbox only: ``GET /__sandbox/notifications`` (what the next round names) and
``POST /__sandbox/notifications/deliver``; webhooks (``POST /__sandbox/webhooks`` to
send every invoice change in real time, ``GET`` to see the deliveries, ``DELETE`` to
stop, ``POST /__sandbox/webhooks/redeliver`` to send one again); ``POST
/__sandbox/simulate/payment`` (``payments.py``): a member pays an invoice.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from ...connectors.clubcollect.credentials import DEV_CREDENTIALS
from .. import core
from . import imports, invoices, notifications, payments
from .data import build_state
from .openapi import install_openapi
from .protocol import API_KEYS, PARTNER_KEY, STATE, auth

P = "/api/v2"


def create_app(
    *, seed: int = 7, latency_ms: int = 0, api_keys: Iterable[str] = (DEV_CREDENTIALS.api_key,)
) -> web.Application:
    """The sandbox server; ``api_keys`` are the partner keys it accepts."""
    app = core.new_app(latency_ms)
    app.middlewares.append(auth)
    app[STATE] = build_state(seed)
    keys = tuple(api_keys)
    app[API_KEYS] = frozenset(keys)
    app[PARTNER_KEY] = keys[0] if keys else ""
    r = app.router
    r.add_get(f"{P}/companies", imports.list_companies)  # inferred: route
    r.add_get(f"{P}/companies/{{id}}", imports.show_company)
    r.add_get(f"{P}/companies/{{id}}/imports", imports.company_imports)
    r.add_post(f"{P}/imports", imports.create_import)
    r.add_get(f"{P}/imports/{{id}}", imports.show_import)
    r.add_put(f"{P}/imports/{{id}}", imports.update_import)
    r.add_delete(f"{P}/imports/{{id}}", imports.delete_import)
    r.add_put(f"{P}/imports/{{id}}/transmit", imports.transmit_import)
    r.add_post(f"{P}/invoices", invoices.create_invoice)
    r.add_get(f"{P}/invoices/{{id}}", invoices.show_invoice)
    r.add_put(f"{P}/invoices/{{id}}", invoices.update_invoice)
    r.add_delete(f"{P}/invoices/{{id}}", invoices.delete_invoice)
    r.add_get(f"{P}/invoices/{{id}}/lines", invoices.show_lines)
    r.add_post(f"{P}/invoices/{{id}}/credit_and_retract", invoices.credit_and_retract)
    # The documentation renders underscores in names as colons (``api:key``), so
    # some copies show this path as ``credit:and:retract``; both spellings work.
    r.add_post(f"{P}/invoices/{{id}}/credit:and:retract", invoices.credit_and_retract)
    r.add_get("/__sandbox/notifications", notifications.show_pending)
    r.add_post("/__sandbox/notifications/deliver", notifications.deliver)
    payments.add_routes(app)
    notifications.install(app)
    install_openapi(app)
    return app
