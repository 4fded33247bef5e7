"""The Tight sandbox server (Tight was formerly Hurdlr; the real base URL ends in ``/rest``).

Documented (Tight v5 reference and the seed):
- ``POST /v5/auth/token``: OAuth 2.0 token endpoint, form body ``client_id``,
  ``client_secret``, ``grant_type`` (``client_credentials`` with optional ``userId``,
  ``refresh_token``, ``authorization_code``); answers ``access_token``,
  ``refresh_token``, ``expires_in``, ``created_at``, ``scope``.
- Bearer access tokens on every API call.
- ``GET /v5/invoicing/invoices`` answering ``{"data": [...]}``.
- ``POST /v5/invoicing/clientInvoiceKey``: a client invoice key authorizes reading one
  invoice in lieu of an access token.
- Invoice fields and casing: ``id``, ``apiInvoiceId``, ``clientId``, ``date``, ``name``,
  ``invoiceNo``, ``invoicePrefix``, ``totalAmount`` (dollars), ``totalAmountCents``
  (authoritative), ``balance``, ``discountAmount`` xor ``discountPercent``, ``term``,
  ``dueDate``, ``personalNote``, ``frequency``, ``status``, ``emailStatus``, ``sendEmail``,
  ``sentDate``, ``lastViewedDate``, ``reminderSchedule``, ``lastCreatedRecurringInvoice``,
  ``parentId``, ``isRecurringParent``, ``refundStatus``, ``emailErrors``,
  ``invoicePdfUrl``, ``invoicePaymentUrl``, ``lineItems`` (``id``, ``description``,
  ``quantity``, ``price``, ``salesTax``, ``amount``, ...), ``installments``,
  ``payments``, ``pendingPaymentAmount``, ``clientName``, ``email``, ``ccEmails``,
  ``bccEmails``, the ``business*`` fields, ``clientInvoiceKey``, ``amountPaid``,
  ``paidDate``, ``acceptACH``/``acceptCredit``/``acceptCash``, ``salesTax``,
  ``customData``; dates as ``YYYY-MM-DD``; dollar amounts as JSON numbers.
- Rules: a discountAmount or a discountPercent but not both; at least one of
  acceptCredit, acceptCash, acceptACH; custom data of at most 2000 characters.
- Enums: term, frequency, status, emailStatus, reminderSchedule, refundStatus,
  apiName (the seed's "name of the API from which this invoice originated").

Inferred (marked ``# inferred:`` where they are served):
- A JSON token body besides the form body; the 401 bodies (Spring OAuth2 style
  ``error``/``error_description``) and the API error body (``result``, ``message``,
  ``errors.fieldErrors``/``errors.globalErrors`` with ``type``/``errorMessage``, the
  shape v4 documents) and its codes, except ``DUPLICATE`` which v4 documents.
- Paths beyond the list: ``GET /v5/invoicing/invoices/{id}``, ``POST`` (create draft)
  and ``PUT`` (update draft) ``/v5/invoicing/invoice``, ``POST
  /v5/invoicing/invoice/{send,cancel,refund}`` with ``{"id": ...}``, the clients routes
  ``GET /v5/invoicing/clients[/{id}]`` and ``POST /v5/invoicing/client``, and ``GET
  /v5/businesses``.
- List parameters: ``page`` (from 1), ``pageSize`` (any of 1-500), ``sort``,
  ``sortDirection`` (ties in id order, in the sort's direction); the
  ``page``/``pageSize``/``totalCount`` envelope. Invoice sorts ``date``, ``dueDate``,
  ``totalAmount``, ``invoiceNo`` (as the number text shown, prefix included) and filters
  ``clientId``, ``status`` (comma-separated), ``isRecurringParent``, ``parentId``,
  ``startDate``/``endDate`` (invoice date) and ``dueStartDate``/``dueEndDate`` (both
  ``YYYY-MM-DD``, ends included), ``hasBalance``. Client sorts ``name``, ``createdDate``
  and filters ``search`` (part of the name or email, any case), ``email`` (whole email,
  any case).
- Fields: ``businessId`` on invoices and clients, ``currency`` (USD, some CAD),
  ``v6InvoiceId`` (the seed's "Id of the v6 invoice entity"), the client object, line
  ``salesTax`` as a percent rate, invoice ``salesTax`` as the dollar total of line taxes,
  discounts applied to the subtotal before tax is added, and recurring children carrying
  ``frequency: ONE_TIME``; the key exchange taking the key in a ``clientInvoiceKey`` header.
- Write rules beyond the documented ones: line quantities above zero; ``invoiceNo``
  settable on a draft, a positive integer unique in the business (``DUPLICATE``);
  ``customData`` as JSON text (counted as sent) or an object (counted as compact JSON);
  a line's ``apiItemId`` kept as given; cancelling a cancelled invoice is
  ``ALREADY_CANCELLED``. No call deletes an invoice: a draft is withdrawn by cancelling it.

Sandbox controls: ``POST /__sandbox/tokens/expire`` expires every access token.
Sandbox only: ``POST /__sandbox/simulate/payment`` (``payments.py``): a client pays an
invoice. Tight sends no webhooks here; a poller sees the change.
"""

from __future__ import annotations

from aiohttp import web

from ..core import new_app
from . import auth, clients, drafts, invoices, payments
from .data import build
from .openapi import install_openapi
from .state import STATE


def create_app(*, seed: int = 7, latency_ms: int = 0, token_ttl_s: int = 3600) -> web.Application:
    """The Tight sandbox application, with seeded state."""
    app = new_app(latency_ms)
    state = build(seed)
    state.tokens.ttl_s = token_ttl_s
    app[STATE] = state
    router = app.router
    router.add_post("/v5/auth/token", auth.token)
    router.add_post("/__sandbox/tokens/expire", auth.expire_tokens)
    router.add_get("/v5/businesses", clients.list_businesses)  # inferred
    router.add_get("/v5/invoicing/clients", clients.list_clients)  # inferred
    router.add_get("/v5/invoicing/clients/{id}", clients.get_client)  # inferred
    router.add_post("/v5/invoicing/client", clients.create_client)  # inferred
    router.add_get("/v5/invoicing/invoices", invoices.list_invoices)
    router.add_get("/v5/invoicing/invoices/{id}", invoices.get_invoice)  # inferred
    router.add_post("/v5/invoicing/clientInvoiceKey", invoices.exchange_client_invoice_key)
    router.add_post("/v5/invoicing/invoice", drafts.create_draft)  # inferred
    router.add_put("/v5/invoicing/invoice", drafts.update_draft)  # inferred
    router.add_post("/v5/invoicing/invoice/send", drafts.send_draft)  # inferred
    router.add_post("/v5/invoicing/invoice/cancel", drafts.cancel)  # inferred
    router.add_post("/v5/invoicing/invoice/refund", drafts.refund)  # inferred
    payments.add_routes(app)
    install_openapi(app)
    return app
