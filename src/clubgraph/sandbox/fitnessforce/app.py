"""The FitnessForce UFP sandbox server.

Documented (seed ``fitnessforce-ufp-api.txt``):
- ``POST .../invoices/{invoice_id}/send_invoice_clear_balance_link`` (under
  ``/tenant/{tenant_id}/clients/{client_id}``) in full: an optional JSON array of
  channels (None, Email, SMS, WhatsApp, MobileNotification, Desktop, Task), answered
  ``200 text/plain`` with an array of
  ``{channel, client_id, staff_id, success, error: ValidationError}``.
- The ``ValidationError`` object: ``severity`` (Error/Warning/Info), ``errorCode``,
  ``errorMessage``, ``identifier``, ``helptext``, ``jsonObject``.
- Tenant-scoped paths ``/tenant/{tenant_id}/clients/{client_id}/invoices/{invoice_id}``,
  integer ids, snake_case JSON, and the names of every other endpoint (index only).

Inferred (the index names them, the seed leaves their shape open):
- Auth: ``POST /authentication/token`` ({username, password}) and
  ``POST /authentication/refresh_token`` ({refresh_token}), both answering
  {access_token, token_type, expires_in, refresh_token}; ``Authorization: Bearer``
  on every other call; refresh rotates both tokens.
- Error bodies: ``{"errors": [ValidationError, ...]}`` with 400 (validation),
  401 (auth), 404 (not found) and 409 (state conflict).
- Lists: ``page_number`` (1-based), ``page_size`` (any of 1..200, default 25),
  ``sort_by``/``sort_order`` with ties in id order in the same direction (so a list
  is strictly ordered even where sort values repeat), comma-separated ``status``;
  answered as ``{page_number, page_size, total_records, total_pages, data}``.
- Invoice list filters ``from_date``/``to_date`` (local invoice date),
  ``due_from_date``/``due_to_date`` (all ``YYYY-MM-DD``, inclusive) and
  ``outstanding_only=true`` (balance above zero).
- Client search (index: "Perform Client Search", "Search clients by tenant"):
  ``GET /clients/search`` and ``GET /tenant/{tenant_id}/clients/search`` with
  ``search_text`` (substring of name or email, any case) and ``email`` (exact).
- Every path other than the documented one, all field names of tenants, clients,
  invoices (with embedded ``invoice_details`` lines), subscriptions, freezes and
  plans, and the invoice and subscription status values.
- Dates ``YYYY-MM-DD``; datetimes ISO 8601 in the tenant's local time with offset;
  amounts JSON decimal numbers in major units with ``currency_code``.

Sandbox only: ``POST /__sandbox/tokens/expire`` ages every access token past expiry.
Webhooks (``events.py``; inferred, the index only names them): once configured with
``POST /__sandbox/webhooks`` (``GET`` shows the deliveries, ``DELETE`` stops them,
``POST /__sandbox/webhooks/redeliver`` sends one again), every write announces its
change, signed. ``POST /__sandbox/simulate/payment`` (``payments.py``): a member pays
an invoice at the front desk.
"""

from __future__ import annotations

from aiohttp import web

from ..core import json_response, new_app
from . import clients, events, invoices, memberships, payments
from .auth import TOKENS, TokenStore, bearer, expire_tokens, generate_token, refresh_token
from .bench import add_bench_tenant
from .data import build_state
from .openapi import install_openapi
from .responses import STATE, paged, tenant_of
from .state import JSON


def _tenant_summary(tenant: JSON) -> JSON:
    return {k: v for k, v in tenant.items() if k != "tax_groups"}


async def list_tenants(request: web.Request) -> web.Response:
    # inferred path: GET /tenants ("List tenants"), paged like every list.
    tenants = request.app[STATE].tenants.values()
    return paged(request, [_tenant_summary(t) for t in tenants])


async def get_tenant(request: web.Request) -> web.Response:
    # inferred path: GET /tenant/{tenant_id} ("Get tenant details"), with tax groups.
    return json_response(tenant_of(request.app[STATE], request))


def create_app(
    *,
    seed: int = 7,
    latency_ms: int = 0,
    token_ttl_s: float = 3600,
    refresh_ttl_s: float = 86400,
    bench: bool = False,
) -> web.Application:
    """The FitnessForce UFP sandbox with seeded data (and the benchmark tenant if asked)."""
    app = new_app(latency_ms)
    app.middlewares.append(bearer)
    app[STATE] = build_state(seed)
    if bench:
        add_bench_tenant(app[STATE], seed)
    app[TOKENS] = TokenStore(token_ttl_s=token_ttl_s, refresh_ttl_s=refresh_ttl_s)
    r = app.router
    r.add_post("/__sandbox/tokens/expire", expire_tokens)
    r.add_post("/authentication/token", generate_token)
    r.add_post("/authentication/refresh_token", refresh_token)
    r.add_get("/tenants", list_tenants)
    r.add_get("/tenant/{tenant_id}", get_tenant)
    clients.add_routes(app)
    invoices.add_routes(app)
    memberships.add_routes(app)
    payments.add_routes(app)
    events.install(app)
    install_openapi(app)
    return app
