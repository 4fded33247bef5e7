"""Tight's refusals as user errors: its error ``type`` to a unified code and a command field."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ...commands import ErrorCode, UserError, WriteRejected
from ...errors import SourceErrorDetail, UpstreamError
from .auth import TOKEN_PATH

# Tight's error type -> (unified code, command field path). A path of None means the
# field Tight named in ``fieldErrors``, translated by ``field_path``.
CODES: dict[str, tuple[ErrorCode, tuple[str, ...] | None]] = {
    "REQUIRED": (ErrorCode.REQUIRED, None),
    "INVALID_VALUE": (ErrorCode.INVALID, None),
    "INVALID_DATE": (ErrorCode.INVALID, None),
    "INVALID_EMAIL": (ErrorCode.INVALID, None),
    "INVALID_JSON": (ErrorCode.INVALID, None),
    "DUPLICATE": (ErrorCode.DUPLICATE, None),
    "CLIENT_NOT_FOUND": (ErrorCode.NOT_FOUND, ("client",)),
    # Tight reports these two as global errors; each names one field of the pair it is about.
    "DISCOUNT_AMOUNT_AND_PERCENT": (ErrorCode.CONFLICTING_DISCOUNTS, ("discount_percent",)),
    "PAYMENT_METHOD_REQUIRED": (ErrorCode.PAYMENT_METHOD_REQUIRED, ("accept_cash",)),
    "CUSTOM_DATA_TOO_LONG": (ErrorCode.TOO_LONG, ("custom_json",)),
    "NOT_FOUND": (ErrorCode.NOT_FOUND, ()),
    "INVOICE_NOT_DRAFT": (ErrorCode.INVALID_STATE, ()),
    "INVALID_STATUS": (ErrorCode.INVALID_STATE, ()),
    "INVOICE_HAS_PAYMENTS": (ErrorCode.INVALID_STATE, ()),
    "ALREADY_CANCELLED": (ErrorCode.ALREADY_DONE, ()),
}

# Tight's invoice fields -> the command fields they are written from.
FIELDS: dict[str, tuple[str, ...]] = {
    "clientId": ("client",),
    "lineItems": ("lines",),
    "date": ("issued_on",),
    "dueDate": ("due_on",),
    "term": ("due_on",),
    "invoiceNo": ("number",),
    "personalNote": ("note",),
    "email": ("recipient", "email"),
    "currency": ("currency",),
    "discountAmount": ("discount_amount",),
    "discountPercent": ("discount_percent",),
    "acceptCash": ("accept_cash",),
    "acceptCredit": ("accept_card",),
    "acceptACH": ("accept_ach",),
    "customData": ("custom_json",),
}
LINE_FIELDS: dict[str, str] = {
    "description": "description",
    "quantity": "quantity",
    "price": "unit_price",
    "salesTax": "tax_rate",
    "apiItemId": "line_id",
}
_LINE = re.compile(r"^lineItems\[(\d+)\](?:\.(\w+))?$")
# Statuses whose bodies carry refusals the caller can act on.
_REFUSALS = frozenset({400, 404, 409, 422})


def field_path(name: str | None) -> tuple[str, ...]:
    """The command field a Tight field name (``lineItems[2].price``) was written from."""
    if not name:
        return ()
    line = _LINE.match(name)
    if line is not None:
        index, attr = line.groups()
        if attr is None:
            return ("lines", index)
        return ("lines", index, LINE_FIELDS[attr]) if attr in LINE_FIELDS else ("lines", index)
    return FIELDS.get(name, ())


def user_error(detail: SourceErrorDetail) -> UserError:
    """One of Tight's errors as a user error; an unknown type keeps its raw code."""
    entry = CODES.get(detail.code)
    message = detail.message or detail.code
    if entry is None:
        return UserError(field_path(detail.field), ErrorCode.UNKNOWN, message, detail.code)
    code, path = entry
    return UserError(field_path(detail.field) if path is None else path, code, message, detail.code)


def user_errors(details: Iterable[SourceErrorDetail]) -> list[UserError]:
    return [user_error(d) for d in details]


def rejection(exc: UpstreamError) -> WriteRejected | None:
    """The refusal an upstream error carries, or None when it is a failure, not a refusal."""
    # A refused token grant is an authentication failure, not the write's fault.
    if exc.status not in _REFUSALS or not exc.details or (exc.url or "").endswith(TOKEN_PATH):
        return None
    return WriteRejected(user_errors(exc.details))
