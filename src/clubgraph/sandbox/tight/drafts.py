"""Invoice writes: create and update drafts, finalize and send, cancel, refund."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from aiohttp import web

from ..core import json_response
from .amounts import decimal_of, recompute
from .auth import require_token
from .invoices import invoice_or_404
from .objects import TERMS_DAYS, invoice_json, iso_date, line_json
from .replies import FieldErrors, fail, json_body
from .state import STATE, TightState

TERMS = (*TERMS_DAYS, "OTHER")
FREQUENCIES = ("ONE_TIME", "WEEKLY", "BI_WEEKLY", "MONTHLY", "YEARLY", "AFTER_TWO_MINS")
REMINDERS = (
    "ON_DUE_DATE",
    "THREE_DAYS_AFTER_DUE_DATE",
    "EVERY_SEVEN_DAYS_AFTER_DUE_DATE",
    "AFTER_TWO_MINS",
)
API_NAMES = ("USER_ENTRY", "QBO", "XERO", "PARTNER_IMPLEMENTATION")
CUSTOM_DATA_MAX = 2000
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
# Fields a draft update may change; amounts are always derived.
_EDITABLE = (
    "name", "date", "term", "dueDate", "personalNote", "frequency", "sendEmail",
    "reminderSchedule", "email", "ccEmails", "bccEmails", "acceptACH", "acceptCredit",
    "acceptCash", "discountAmount", "discountPercent", "customData", "apiInvoiceId",
    "apiName", "currency", "invoiceNo",
)  # fmt: skip


def _today() -> date:
    return datetime.now(UTC).date()


def _check_enum(
    errors: FieldErrors, body: dict[str, Any], name: str, allowed: tuple[str, ...]
) -> None:
    if name in body and body[name] not in allowed:
        errors.add(name, "INVALID_VALUE", f"{name} must be one of {', '.join(allowed)}")


def _check_date(errors: FieldErrors, body: dict[str, Any], name: str) -> None:
    value = body.get(name)
    if value is None:
        return
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        errors.add(name, "INVALID_DATE", f"{name} must be a date (YYYY-MM-DD)")


def _check_number(
    errors: FieldErrors,
    where: str,
    value: Any,
    low: int,
    high: int | None,
    *,
    above: bool = False,
) -> None:
    """A number within ``low``..``high`` (``above``: strictly greater than ``low``)."""
    try:
        number = decimal_of(value)
    except ValueError:
        errors.add(where, "INVALID_VALUE", f"{where} must be a number")
        return
    too_low = number <= low if above else number < low
    if too_low or (high is not None and number > high):
        errors.add(where, "INVALID_VALUE", f"{where} is out of range")


def _check_custom_data(errors: FieldErrors, value: Any) -> None:
    """At most 2000 characters: a string as sent, an object as compact JSON text."""
    # inferred: customData may come as JSON text (kept as given) or as an object, and a
    # text too long is refused for its length before its syntax is looked at.
    text = value if isinstance(value, str) else orjson.dumps(value or {}).decode()
    if len(text) > CUSTOM_DATA_MAX:
        errors.add("customData", "CUSTOM_DATA_TOO_LONG", "customData exceeds 2000 characters")
        return
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        errors.add("customData", "INVALID_JSON", "customData is not valid JSON")


def _check_invoice_no(
    errors: FieldErrors, state: TightState, body: dict[str, Any], own_id: int | None
) -> None:
    # inferred: an invoice number is a positive integer, unique within the business.
    if "invoiceNo" not in body:
        return
    number = body["invoiceNo"]
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        errors.add("invoiceNo", "INVALID_VALUE", "invoiceNo must be a positive integer")
    elif any(i["invoiceNo"] == number and i["id"] != own_id for i in state.invoices.values()):
        errors.add("invoiceNo", "DUPLICATE", f"Invoice number {number} is already used")


def _validate(
    state: TightState,
    body: dict[str, Any],
    merged: dict[str, Any],
    creating: bool,
    own_id: int | None = None,
) -> None:
    """Tight's documented rules, plus the field checks any invoice API makes."""
    errors = FieldErrors()
    if creating and body.get("clientId") is None:
        errors.add("clientId", "REQUIRED", "clientId is required")
    elif creating and (
        not isinstance(body["clientId"], int) or body["clientId"] not in state.clients
    ):
        errors.add("clientId", "CLIENT_NOT_FOUND", f"Client {body['clientId']} not found")
    _check_enum(errors, body, "term", TERMS)
    _check_enum(errors, body, "frequency", FREQUENCIES)
    _check_enum(errors, body, "reminderSchedule", REMINDERS)
    _check_enum(errors, body, "apiName", API_NAMES)
    _check_enum(errors, body, "currency", ("USD", "CAD"))
    _check_date(errors, body, "date")
    _check_date(errors, body, "dueDate")
    # documented: a discountAmount or a discountPercent, but not both.
    if merged.get("discountAmount") is not None and merged.get("discountPercent") is not None:
        errors.add(
            None,
            "DISCOUNT_AMOUNT_AND_PERCENT",
            "Provide a discountAmount or a discountPercent, but not both",
        )
    if body.get("discountAmount") is not None:
        _check_number(errors, "discountAmount", body["discountAmount"], 0, None)
    if body.get("discountPercent") is not None:
        _check_number(errors, "discountPercent", body["discountPercent"], 0, 100)
    # documented: at least one of acceptCredit, acceptCash or acceptACH must be true.
    if not (merged["acceptCredit"] or merged["acceptCash"] or merged["acceptACH"]):
        errors.add(
            None,
            "PAYMENT_METHOD_REQUIRED",
            "At least one of acceptCredit, acceptCash, or acceptACH must be true",
        )
    # documented: customData holds at most 2000 characters.
    _check_custom_data(errors, merged.get("customData"))
    _check_invoice_no(errors, state, body, own_id)
    for name in ("email",):
        if name in body and not (isinstance(body[name], str) and _EMAIL.match(body[name])):
            errors.add(name, "INVALID_EMAIL", f"{name} is not a valid email address")
    lines = body.get("lineItems")
    if creating or lines is not None:
        if not isinstance(lines, list) or not lines:
            errors.add("lineItems", "REQUIRED", "At least one line item is required")
        else:
            for i, line in enumerate(lines):
                where = f"lineItems[{i}]"
                if not isinstance(line, dict) or not line.get("description"):
                    errors.add(f"{where}.description", "REQUIRED", "description is required")
                    continue
                # inferred: a line bills a positive quantity.
                quantity = line.get("quantity", 1)
                _check_number(errors, f"{where}.quantity", quantity, 0, None, above=True)
                _check_number(errors, f"{where}.price", line.get("price"), -(10**7), 10**7)
                _check_number(errors, f"{where}.salesTax", line.get("salesTax", 0), 0, 100)
    errors.raise_if_any()


def _apply(state: TightState, invoice: dict[str, Any], body: dict[str, Any]) -> None:
    for name in _EDITABLE:
        if name in body:
            invoice[name] = body[name]
    if body.get("lineItems") is not None:
        invoice["lineItems"] = [
            line_json(
                state,
                ln["description"],
                ln.get("quantity", 1),
                ln["price"],
                ln.get("salesTax", 0),
                api_item_id=ln.get("apiItemId"),
            )
            for ln in body["lineItems"]
        ]
    invoice["isRecurringParent"] = invoice["frequency"] != "ONE_TIME"
    if "dueDate" not in body and ("term" in body or "date" in body):
        days = TERMS_DAYS.get(invoice["term"], 30)
        invoice["dueDate"] = iso_date(date.fromisoformat(invoice["date"]) + timedelta(days=days))
    recompute(invoice)


def _written(invoice: dict[str, Any]) -> web.Response:
    return json_response(
        {
            "result": "SUCCESS",
            "invoiceId": invoice["id"],
            "invoiceNo": invoice["invoiceNo"],
            "invoice": invoice,
        }
    )


async def create_draft(request: web.Request) -> web.Response:
    """POST /v5/invoicing/invoice: a new DRAFT invoice."""
    require_token(request)
    state = request.app[STATE]
    body = await json_body(request)
    defaults = {"acceptCredit": True, "acceptACH": True, "acceptCash": False}
    _validate(state, body, {**defaults, **body}, creating=True)
    client = state.clients[body["clientId"]]
    day = date.fromisoformat(body["date"]) if body.get("date") else _today()
    invoice = invoice_json(state, client, body.get("name") or "Invoice", day)
    invoice["term"] = body.get("term", "DUE_NOW")
    _apply(state, invoice, {**body, "date": iso_date(day)})
    state.invoices[invoice["id"]] = invoice
    return _written(invoice)


def _draft(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    if body.get("id") is None:
        fail(400, "REQUIRED", "id is required")
    invoice = invoice_or_404(request, body["id"])
    if invoice["status"] != "DRAFT":
        fail(409, "INVOICE_NOT_DRAFT", f"Invoice {invoice['id']} is not a draft")
    return invoice


async def update_draft(request: web.Request) -> web.Response:
    """PUT /v5/invoicing/invoice: change a DRAFT invoice (inferred method and path)."""
    require_token(request)
    state = request.app[STATE]
    body = await json_body(request)
    invoice = _draft(request, body)
    _validate(state, body, {**invoice, **body}, creating=False, own_id=invoice["id"])
    _apply(state, invoice, body)
    return _written(invoice)


async def send_draft(request: web.Request) -> web.Response:
    """POST /v5/invoicing/invoice/send: finalize a draft and email it (inferred path)."""
    require_token(request)
    invoice = _draft(request, await json_body(request))
    today = _today()
    if date.fromisoformat(invoice["date"]) > today:
        invoice["status"] = "SCHEDULED"
    else:
        invoice["status"] = "OPEN"
        invoice["sentDate"] = iso_date(today)
        invoice["emailStatus"] = "SUCCESS" if invoice["sendEmail"] else "NOT_SENT"
    recompute(invoice)
    return _written(invoice)


async def cancel(request: web.Request) -> web.Response:
    """POST /v5/invoicing/invoice/cancel (inferred): stop an unpaid invoice or a recurrence."""
    require_token(request)
    body = await json_body(request)
    invoice = invoice_or_404(request, body.get("id"))
    if invoice["status"] == "CANCELLED":
        fail(409, "ALREADY_CANCELLED", f"Invoice {invoice['id']} is already cancelled")
    if invoice["status"] not in ("DRAFT", "SCHEDULED", "OPEN"):
        fail(409, "INVALID_STATUS", f"Invoice with status {invoice['status']} cannot be cancelled")
    if invoice["amountPaid"] and not invoice["isRecurringParent"]:
        fail(409, "INVOICE_HAS_PAYMENTS", "Refund the payments before cancelling this invoice")
    invoice["status"] = "CANCELLED"
    recompute(invoice)
    return _written(invoice)


async def refund(request: web.Request) -> web.Response:
    """POST /v5/invoicing/invoice/refund (inferred): refund every payment of an invoice."""
    require_token(request)
    body = await json_body(request)
    invoice = invoice_or_404(request, body.get("id"))
    if invoice["status"] == "REFUNDED":
        fail(409, "ALREADY_REFUNDED", f"Invoice {invoice['id']} is already refunded")
    if not invoice["amountPaid"] or invoice["status"] not in ("OPEN", "CLOSED"):
        fail(409, "NOT_REFUNDABLE", f"Invoice {invoice['id']} has no payment to refund")
    invoice["status"] = "REFUNDED"
    invoice["refundStatus"] = "PENDING"
    recompute(invoice)
    return _written(invoice)
