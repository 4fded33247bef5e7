"""Tight's invoice writes: the request bodies and the upstream calls, undone where needed.

Every call answers with the invoice as it now is (lines included), which is what a
write returns: no second read, and never a stale copy.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ...commands import CreateInvoice, LineInput, PartialWrite, UpdateInvoice, WriteRejected
from ...domain import Key
from ...errors import UpstreamBadResponse, UpstreamError
from ...http import UpstreamHTTP
from ...idempotency import current_write_marker
from . import mapping
from .rejections import rejection
from .rules import invoice_number, json_number
from .types import TightInvoice

DRAFT = "/v5/invoicing/invoice"
SEND = "/v5/invoicing/invoice/send"
CANCEL = "/v5/invoicing/invoice/cancel"
INVOICE = "/v5/invoicing/invoices/{id}"
# A custom due date: without it Tight derives the due date from the term.
CUSTOM_TERM = "OTHER"


def _number(value: Decimal) -> int | float:
    exact = json_number(value)
    if exact is None:  # rules.check_create refused it already
        raise ValueError(f"not exactly representable: {value}")
    return exact


def line_body(line: LineInput) -> dict[str, Any]:
    body: dict[str, Any] = {
        "description": line.description,
        "quantity": _number(line.quantity),
        "price": _number(line.unit_price),
    }
    if line.tax_rate is not None:
        body["salesTax"] = _number(line.tax_rate)
    if line.line_id is not None:
        body["apiItemId"] = line.line_id
    return body


def _common(body: dict[str, Any], cmd: CreateInvoice | UpdateInvoice) -> None:
    """The fields a new draft and a change to one share."""
    if cmd.due_on is not None:
        body["term"] = CUSTOM_TERM
        body["dueDate"] = cmd.due_on.isoformat()
    if cmd.note is not None:
        body["personalNote"] = cmd.note
    if cmd.number is not None:
        body["invoiceNo"] = invoice_number(cmd.number)
    if cmd.recipient is not None and cmd.recipient.email is not None:
        body["email"] = cmd.recipient.email


def create_body(cmd: CreateInvoice) -> dict[str, Any]:
    """The body of ``POST /v5/invoicing/invoice`` (a command that passed the rules)."""
    assert cmd.client is not None
    body: dict[str, Any] = {
        "clientId": int(cmd.client.id),
        "lineItems": [line_body(line) for line in cmd.lines],
    }
    _common(body, cmd)
    if cmd.issued_on is not None:
        body["date"] = cmd.issued_on.isoformat()
    if cmd.currency is not None:
        body["currency"] = cmd.currency
    if cmd.discount_amount is not None:
        body["discountAmount"] = _number(cmd.discount_amount)
    if cmd.discount_percent is not None:
        body["discountPercent"] = _number(cmd.discount_percent)
    for name, value in (
        ("acceptCash", cmd.accept_cash),
        ("acceptCredit", cmd.accept_card),
        ("acceptACH", cmd.accept_ach),
    ):
        if value is not None:
            body[name] = value
    if cmd.custom_json is not None:
        # Sent as the JSON text given, so its length upstream is the length checked here.
        body["customData"] = cmd.custom_json
    marker = current_write_marker.get()
    if marker is not None:
        # Documented: "Id of the invoice record in your DB". Ours is the idempotency key's
        # record: a create cut off midway is found again by it (``find_created``).
        body["apiInvoiceId"] = marker
    return body


def update_body(invoice_id: int, cmd: UpdateInvoice) -> dict[str, Any]:
    """The body of ``PUT /v5/invoicing/invoice``: only the fields the command changes."""
    body: dict[str, Any] = {"id": invoice_id}
    _common(body, cmd)
    return body


async def call(http: UpstreamHTTP, method: str, path: str, body: dict[str, Any]) -> TightInvoice:
    """One write call; Tight's refusal as ``WriteRejected``, its answer as the invoice now."""
    try:
        reply = await http.request(method, path, json=body)
    except UpstreamError as exc:
        refused = rejection(exc)
        if refused is None:
            raise
        raise refused from exc
    if isinstance(reply, dict) and isinstance(reply.get("invoice"), dict):
        invoice: TightInvoice = reply["invoice"]
        return invoice
    invoice_id = reply.get("invoiceId") if isinstance(reply, dict) else None
    if invoice_id is None:
        raise UpstreamBadResponse("tight", "write answered without the invoice", method=method)
    # An answer without the invoice: read it, so the caller still gets it as it is now.
    fresh: TightInvoice = await http.request("GET", INVOICE.format(id=invoice_id))
    return fresh


async def create(http: UpstreamHTTP, cmd: CreateInvoice) -> TightInvoice:
    """Create the draft; with ``send``, finalize and send it, cancelling the draft if that fails."""
    draft = await call(http, "POST", DRAFT, create_body(cmd))
    if not cmd.send:
        return draft
    try:
        return await call(http, "POST", SEND, {"id": draft["id"]})
    except (WriteRejected, UpstreamError) as failure:
        await _withdraw(http, draft, cmd, failure)
        raise


async def _withdraw(
    http: UpstreamHTTP, draft: TightInvoice, cmd: CreateInvoice, failure: Exception
) -> None:
    """Undo a draft that could not be sent. Tight deletes no invoice: cancelling is the undo."""
    try:
        await http.request("POST", CANCEL, json={"id": draft["id"]})
    except UpstreamError as undo:
        assert cmd.client is not None
        key: Key = mapping.invoice_key(mapping.tenant_of(draft, cmd.client.tenant), draft["id"])
        raise PartialWrite(
            f"Tight draft invoice {draft['id']} was created, but sending it failed "
            f"({_describe(failure)}) and cancelling it failed too ({_describe(undo)}), "
            "so it remains upstream",
            created=[key],
            cause=failure,
        ) from undo


def _describe(exc: Exception) -> str:
    """A failure in words fit for a caller: no URL, no body."""
    if isinstance(exc, UpstreamError):
        return exc.code if exc.status is None else f"{exc.code}, HTTP {exc.status}"
    return str(exc)
