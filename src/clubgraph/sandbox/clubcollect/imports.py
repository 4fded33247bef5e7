"""Companies and imports: the batches invoices are created in."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from ..core import json_response
from .ledger import iso, new_id, status_after_transmit
from .protocol import Refused, import_of, json_body, page_of, paging, state_of

# --- companies ------------------------------------------------------------------------


async def list_companies(request: web.Request) -> web.Response:
    """``GET /api/v2/companies``."""
    # inferred: route, paging and body shape mirror the documented imports list.
    page, size = paging(request)
    items, meta = page_of(list(state_of(request).companies.values()), page, size)
    return json_response({"companies": items, "page": meta})


async def show_company(request: web.Request) -> web.Response:
    """``GET /api/v2/companies/:id``."""
    company = state_of(request).companies.get(request.match_info["id"])
    if company is None:
        raise Refused(404, "not_found", "errors")
    return json_response(company)


async def company_imports(request: web.Request) -> web.Response:
    """``GET /api/v2/companies/:id/imports``, oldest first."""
    state = state_of(request)
    company_id = request.match_info["id"]
    if company_id not in state.companies:
        raise Refused(404, "not_found")
    page, size = paging(request)
    summaries = [
        {k: i[k] for k in ("company_id", "import_id", "title", "transmitted", "transmitted_at")}
        for i in state.company_imports(company_id)
    ]
    items, meta = page_of(summaries, page, size)
    return json_response({"imports": items, "page": meta})


# --- imports --------------------------------------------------------------------------


async def show_import(request: web.Request) -> web.Response:
    """``GET /api/v2/imports/:id``."""
    return json_response(import_of(request, "errors"))


async def create_import(request: web.Request) -> web.Response:
    """``POST /api/v2/imports``: a new, empty import."""
    body = await json_body(request)
    state = state_of(request)
    company = state.companies.get(str(body.get("company_id") or ""))
    if company is None:
        raise Refused(422, "invalid_company_id")
    imp = {
        "import_id": new_id(),
        "company_id": company["company_id"],  # inferred: field on the object
        "title": body.get("title"),
        "transmitted": False,
        "transmitted_at": None,
        "prepaid_amount_cents": 0,
        "prepaid_amount_currency": company["currency"],
        "settled_amount_cents": 0,
        "settled_amount_currency": company["currency"],
        "expected_invoices_count": int(body.get("expected_invoices_count") or 0),
        "invoice_ids": [],
    }
    state.imports[imp["import_id"]] = imp
    state.changed(import_ids=[imp["import_id"]])
    return json_response(imp)


async def update_import(request: web.Request) -> web.Response:
    """``PUT /api/v2/imports/:id``."""
    imp = import_of(request)
    body = await json_body(request)
    if imp["transmitted"]:
        raise Refused(422, "import_already_transmitted")
    if "expected_invoices_count" in body:
        imp["expected_invoices_count"] = int(body["expected_invoices_count"] or 0)
    state_of(request).changed(import_ids=[imp["import_id"]])
    return json_response(imp)


async def transmit_import(request: web.Request) -> web.Response:
    """``PUT /api/v2/imports/:id/transmit``: its drafts become open invoices."""
    imp = import_of(request)
    if imp["transmitted"]:
        raise Refused(422, "import_already_transmitted")
    now = iso(datetime.now(UTC))
    imp["transmitted"], imp["transmitted_at"] = True, now
    for invoice_id in imp["invoice_ids"]:
        invoice = state_of(request).invoices[invoice_id]
        invoice["status"] = status_after_transmit(invoice)
        invoice["transmitted_at"] = now
    state_of(request).changed(imp["invoice_ids"], [imp["import_id"]])
    return json_response(imp)


async def delete_import(request: web.Request) -> web.Response:
    """``DELETE /api/v2/imports/:id`` with its invoices, before transmission."""
    imp = import_of(request)
    if imp["transmitted"]:
        raise Refused(422, "import_already_transmitted")
    state = state_of(request)
    for invoice_id in imp["invoice_ids"]:
        state.invoices.pop(invoice_id, None)
    del state.imports[imp["import_id"]]
    state.changed(imp["invoice_ids"], [imp["import_id"]])
    return web.Response(status=204)
