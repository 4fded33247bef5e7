"""Tight's write rules, checked before any upstream call.

Each check refuses with the unified code and field that Tight's own refusal of the
same mistake maps to (``rejections.CODES``), so a caller sees one answer either way.
Documented by Tight: a discount amount or a percent, not both; at least one payment
method; custom JSON of at most 2,000 characters. Required for any invoice: a client,
at least one line, a description and a positive quantity on every line. The rest are
what a command must hold for Tight to receive it exactly as meant.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import fields
from decimal import Decimal

import orjson

from ...commands import (
    CreateInvoice,
    ErrorCode,
    LineInput,
    Recipient,
    UpdateInvoice,
    UserError,
    WriteRejected,
)
from ...domain import EntityType, Key, Source

CUSTOM_JSON_MAX = 2000
# What Tight assumes for a payment method a new invoice leaves out.
DEFAULT_ACCEPT_CASH = False
DEFAULT_ACCEPT_CARD = True
DEFAULT_ACCEPT_ACH = True
# The three flags are one rule; its errors name the first of them.
PAYMENT_METHOD_FIELD = ("accept_cash",)
# Tight numbers invoices with an integer per business; the shown prefix is the business's.
_INVOICE_NUMBER = re.compile(r"^\s*([^\d\s]*)(\d{1,9})\s*$")
_RECIPIENT_KEPT = frozenset({"email"})


def raise_if(errors: Sequence[UserError]) -> None:
    if errors:
        raise WriteRejected(errors)


def json_number(value: Decimal) -> int | float | None:
    """A Decimal as the JSON number whose text is exactly that value, or None if none is."""
    if not value.is_finite():
        return None
    if value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    number = float(value)
    # orjson writes a float's shortest repr: exact whenever that repr reads back as the value.
    return number if Decimal(repr(number)) == value else None


def invoice_number(text: str) -> int | None:
    """Tight's integer invoice number from ``"1042"`` or ``"TFS-1042"``; None if neither."""
    match = _INVOICE_NUMBER.match(text)
    if match is None or int(match.group(2)) < 1:
        return None
    return int(match.group(2))


def target_id(key: Key, tenants: Sequence[str], kind: EntityType = EntityType.INVOICE) -> int:
    """Tight's id of the entity a key names, refusing keys no Tight entity can have."""
    if (
        key.source is not Source.TIGHT
        or key.type is not kind
        or not key.id.isdigit()
        or key.tenant not in tenants
    ):
        raise WriteRejected(
            [UserError((), ErrorCode.NOT_FOUND, f"No Tight {kind.value.lower()} {key.id}")]
        )
    return int(key.id)


def _amount(errors: list[UserError], path: tuple[str, ...], value: Decimal | None) -> None:
    if value is not None and json_number(value) is None:
        errors.append(UserError(path, ErrorCode.INVALID, f"{path[-1]} cannot be sent exactly"))


def _line(errors: list[UserError], index: int, line: LineInput) -> None:
    at = ("lines", str(index))
    if not line.description:
        errors.append(
            UserError((*at, "description"), ErrorCode.REQUIRED, "description is required")
        )
    if line.quantity.is_finite() and line.quantity <= 0:
        errors.append(UserError((*at, "quantity"), ErrorCode.INVALID, "quantity must be positive"))
    _amount(errors, (*at, "quantity"), line.quantity)
    _amount(errors, (*at, "unit_price"), line.unit_price)
    _amount(errors, (*at, "tax_rate"), line.tax_rate)
    if line.discount is not None:
        # Tight discounts the whole invoice, never one line.
        message = "Tight lines take no discount; use the invoice's discount_amount"
        errors.append(UserError((*at, "discount"), ErrorCode.NOT_SUPPORTED, message))


def _recipient(errors: list[UserError], recipient: Recipient | None) -> None:
    """Tight keeps only the email an invoice is sent to; the rest is the client's."""
    if recipient is None:
        return
    for name in (f.name for f in fields(recipient)):
        if name not in _RECIPIENT_KEPT and getattr(recipient, name) is not None:
            message = f"Tight takes the {name.replace('_', ' ')} from the client"
            errors.append(UserError(("recipient", name), ErrorCode.NOT_SUPPORTED, message))


def _number(errors: list[UserError], number: str | None) -> None:
    if number is not None and invoice_number(number) is None:
        message = "number must be a positive integer, optionally after the business's prefix"
        errors.append(UserError(("number",), ErrorCode.INVALID, message))


def check_create(cmd: CreateInvoice) -> list[UserError]:
    """Everything wrong with a new invoice that Tight would refuse or could not receive."""
    errors: list[UserError] = []
    if cmd.client is None:
        errors.append(UserError(("client",), ErrorCode.REQUIRED, "client is required"))
    if not cmd.lines:
        errors.append(UserError(("lines",), ErrorCode.REQUIRED, "At least one line is required"))
    for index, line in enumerate(cmd.lines):
        _line(errors, index, line)
    if cmd.total is not None:
        message = "Tight derives the total from the lines"
        errors.append(UserError(("total",), ErrorCode.NOT_SUPPORTED, message))
    _recipient(errors, cmd.recipient)
    _number(errors, cmd.number)
    _amount(errors, ("discount_amount",), cmd.discount_amount)
    _amount(errors, ("discount_percent",), cmd.discount_percent)
    # documented: a discountAmount or a discountPercent, but not both.
    if cmd.discount_amount is not None and cmd.discount_percent is not None:
        message = "Provide a discount amount or a discount percent, but not both"
        errors.append(UserError(("discount_percent",), ErrorCode.CONFLICTING_DISCOUNTS, message))
    # documented: at least one of acceptCash, acceptCredit or acceptACH must be true.
    accepts = (
        DEFAULT_ACCEPT_CASH if cmd.accept_cash is None else cmd.accept_cash,
        DEFAULT_ACCEPT_CARD if cmd.accept_card is None else cmd.accept_card,
        DEFAULT_ACCEPT_ACH if cmd.accept_ach is None else cmd.accept_ach,
    )
    if not any(accepts):
        message = "At least one of accept cash, accept card or accept ACH must be true"
        errors.append(UserError(PAYMENT_METHOD_FIELD, ErrorCode.PAYMENT_METHOD_REQUIRED, message))
    # documented: custom JSON of at most 2000 characters (length before syntax, as upstream).
    if cmd.custom_json is not None and len(cmd.custom_json) > CUSTOM_JSON_MAX:
        message = f"custom_json exceeds {CUSTOM_JSON_MAX} characters"
        errors.append(UserError(("custom_json",), ErrorCode.TOO_LONG, message))
    elif cmd.custom_json is not None and not _is_json(cmd.custom_json):
        errors.append(UserError(("custom_json",), ErrorCode.INVALID, "custom_json is not JSON"))
    return errors


def _is_json(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def check_client(cmd: CreateInvoice, tenants: Sequence[str]) -> list[UserError]:
    """The client must be a Tight client of a business these credentials reach."""
    client = cmd.client
    if client is None:
        return []
    errors: list[UserError] = []
    if (
        client.source is not Source.TIGHT
        or client.type is not EntityType.CLIENT
        or not client.id.isdigit()
        or client.tenant not in tenants
    ):
        errors.append(UserError(("client",), ErrorCode.NOT_FOUND, f"No Tight client {client.id}"))
    elif cmd.tenant is not None and cmd.tenant != client.tenant:
        message = "tenant must be the client's business"
        errors.append(UserError(("tenant",), ErrorCode.INVALID, message))
    return errors


def check_update(cmd: UpdateInvoice) -> list[UserError]:
    """What Tight could not receive in a change to a draft."""
    errors: list[UserError] = []
    _recipient(errors, cmd.recipient)
    _number(errors, cmd.number)
    return errors
