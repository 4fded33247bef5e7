"""Invoice item write endpoints of the TimeTap sandbox."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from aiohttp import web

from ..core import json_response
from .model import JSON, TimeTapState, now_ms, num
from .problems import Problem, bad_request, not_found
from .reads import BUSINESS, int_param, invoice_of, state_of
from .validation import check_business, parse_amount, raise_problems, read_body

# The fieldName of an array body's lines as a whole.
ITEMS = "invoiceItem"
_ITEM_WRITABLE = ("description", "quantity", "rate", "discountAmount", "discountPercentage")


def at(where: str, name: str | None) -> str | None:
    """The fieldName of ``name`` within the line at ``where`` (``"[2].rate"``)."""
    # inferred: errors about a line of an array name the line's index before the property.
    if not where:
        return name
    return f"{where}.{name}" if name else where


def new_item(
    state: TimeTapState, request: web.Request, body: Any, invoice: JSON | None, where: str = ""
) -> JSON:
    """A validated, priced invoice item from a request body (not stored yet)."""
    # ``where`` is the line's place in an array body ("[2]"), empty for a lone item.
    if not isinstance(body, dict):
        raise bad_request("INVALID_BODY", "an invoiceItem object is expected", at(where, None))
    problems: list[Problem] = []
    check_business(body, request, problems)
    for name in ("clientId", "quantity", "rate", "active"):
        if body.get(name) is None:
            problems.append(Problem("REQUIRED_FIELD_MISSING", f"{name} is required", name))
    if invoice is None and body.get("invoiceId") is None:
        problems.append(Problem("REQUIRED_FIELD_MISSING", "invoiceId is required", "invoiceId"))
    quantity = body.get("quantity")
    if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int)):
        problems.append(Problem("INVALID_QUANTITY", "quantity must be an integer", "quantity"))
    elif quantity is not None and quantity < 1:
        problems.append(Problem("INVALID_QUANTITY", "quantity must be at least 1", "quantity"))
    rate = parse_amount(body.get("rate"), "rate", problems)
    discount = parse_amount(body.get("discountAmount"), "discountAmount", problems)
    percent = body.get("discountPercentage")
    if percent is not None and not (isinstance(percent, int) and 0 <= percent <= 100):
        problems.append(
            Problem("INVALID_DISCOUNT", "discountPercentage must be 0..100", "discountPercentage")
        )
    if discount and percent:
        problems.append(
            Problem("INVALID_DISCOUNT", "use discountAmount or discountPercentage, not both")
        )
    raise_problems([replace(p, field=at(where, p.field)) for p in problems])
    if invoice is None:
        invoice = invoice_of(request, int(body["invoiceId"]))
    if not invoice["active"] or invoice["status"] != "OPEN":
        raise bad_request(
            "INVOICE_NOT_OPEN", "Items can only be added to OPEN invoices", at(where, None)
        )
    if body["clientId"] != invoice["clientId"]:
        raise bad_request(
            "CLIENT_MISMATCH", "clientId differs from the invoice's client", at(where, "clientId")
        )
    item: JSON = {
        "invoiceItemId": state.next_item_id,
        "invoiceId": invoice["invoiceId"],
        "businessId": request[BUSINESS],
        "clientId": body["clientId"],
        "active": bool(body["active"]),
        "itemType": body.get("itemType", "APPOINTMENT"),  # inferred field
        "description": body.get("description"),
        "quantity": quantity,
        "rate": num(rate or Decimal(0)),
        "discountAmount": num(discount) if discount else None,
        "discountPercentage": percent or None,
        "taxable": bool(body.get("taxable", False)),
        "calendarId": body.get("calendarId"),
        "productId": body.get("productId"),
        "packageSoldId": body.get("packageSoldId"),
        "recurringAppointmentId": body.get("recurringAppointmentId"),
        "giftCardUUId": body.get("giftCardUUId"),
        "reasonId": body.get("reasonId"),
        "depositAmount": None,
        "createdDate": now_ms(),
        "createdUser": "api",
        "modifiedUser": None,
    }
    state.next_item_id += 1
    state.price_item(item)
    return item


def store_items(state: TimeTapState, items: list[JSON]) -> None:
    """Store new lines and recompute the invoices they belong to."""
    for item in items:
        state.add_item(item)
    for invoice_id in {i["invoiceId"] for i in items}:
        state.recompute(state.invoices[invoice_id])


async def create_items(request: web.Request) -> web.Response:
    """``POST /invoiceItems``: an array of lines."""
    state = state_of(request)
    body = await read_body(request)
    if not isinstance(body, list):
        raise bad_request("INVALID_BODY", "an array of invoiceItem objects is expected")
    if not body:
        # inferred: an empty array is a missing value, like any required field.
        raise bad_request("REQUIRED_FIELD_MISSING", "at least one invoiceItem is required", ITEMS)
    items = [new_item(state, request, line, None, f"[{n}]") for n, line in enumerate(body)]
    store_items(state, items)
    return json_response([state.item_view(i) for i in items])


async def create_item(request: web.Request) -> web.Response:
    """``POST /invoiceItem``: one line."""
    state = state_of(request)
    item = new_item(state, request, await read_body(request), None)
    store_items(state, [item])
    return json_response(state.item_view(item))


def _item_of(request: web.Request, item_id: Any) -> JSON:
    item = state_of(request).items.get(item_id) if isinstance(item_id, int) else None
    if item is None or item["businessId"] != request[BUSINESS]:
        raise not_found("invoiceItem", item_id)
    return item


async def update_item(request: web.Request) -> web.Response:
    """``PUT /invoiceItem``: change a line and reprice its invoice."""
    state = state_of(request)
    body = await read_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("invoiceItemId"), int):
        raise bad_request("REQUIRED_FIELD_MISSING", "invoiceItemId is required", "invoiceItemId")
    item = _item_of(request, body["invoiceItemId"])
    invoice = state.invoices.get(item["invoiceId"]) if item["invoiceId"] else None
    if invoice is not None and (invoice["status"] != "OPEN" or not invoice["active"]):
        raise bad_request("INVOICE_NOT_OPEN", "Items of a closed invoice cannot change")
    merged = {**item, **{k: body[k] for k in _ITEM_WRITABLE if k in body}}
    merged["businessId"] = body.get("businessId", item["businessId"])
    for name in ("active", "taxable"):
        if name in body:
            merged[name] = bool(body[name])
    problems: list[Problem] = []
    check_business(merged, request, problems)
    # Only what the body sends is checked: stored amounts are valid already.
    for name in ("rate", "discountAmount"):
        if name in body:
            amount = parse_amount(body[name], name, problems)
            merged[name] = num(amount) if amount is not None else None
    if merged["rate"] is None:
        problems.append(Problem("REQUIRED_FIELD_MISSING", "rate is required", "rate"))
    quantity = merged["quantity"]
    if quantity is None:
        problems.append(Problem("REQUIRED_FIELD_MISSING", "quantity is required", "quantity"))
    elif isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        problems.append(Problem("INVALID_QUANTITY", "quantity must be an integer >= 1", "quantity"))
    percent = merged.get("discountPercentage")
    if percent is not None and not (isinstance(percent, int) and 0 <= percent <= 100):
        problems.append(
            Problem("INVALID_DISCOUNT", "discountPercentage must be 0..100", "discountPercentage")
        )
    if merged.get("discountAmount") and percent:
        problems.append(
            Problem("INVALID_DISCOUNT", "use discountAmount or discountPercentage, not both")
        )
    raise_problems(problems)
    merged["modifiedUser"] = "api"
    item.update(merged)
    state.price_item(item)
    if invoice is not None:
        state.recompute(invoice)
    return json_response(state.item_view(item))


async def delete_item(request: web.Request) -> web.Response:
    """``DELETE /invoiceItem/{invoiceItemId}``: soft delete."""
    state = state_of(request)
    item = _item_of(request, int_param(request, "invoiceItemId"))
    invoice = state.invoices.get(item["invoiceId"]) if item["invoiceId"] else None
    if invoice is not None and (invoice["status"] != "OPEN" or not invoice["active"]):
        raise bad_request("INVOICE_NOT_OPEN", "Items of a closed invoice cannot change")
    item["active"] = False
    if invoice is not None:
        state.recompute(invoice)
    return json_response(state.item_view(item))
