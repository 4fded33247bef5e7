"""TimeTap's refusals of writes as user errors: one table from ``errorCode`` to the
unified code and the command field at fault.

A field of ``None`` in the table means "where TimeTap's ``fieldName`` points": a
property (``rate``) or a property of one line of an array body (``[2].rate``), translated
to the command's path (``("lines", "2", "unit_price")``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NoReturn

from ...commands import ErrorCode, UserError, WriteRejected
from ...errors import SourceErrorDetail, UpstreamError

Path = tuple[str, ...]

# errorCode -> (unified code, command field path; None: from fieldName).
ERRORS: Mapping[str, tuple[ErrorCode, Path | None]] = {
    "REQUIRED_FIELD_MISSING": (ErrorCode.REQUIRED, None),
    "INVALID_QUANTITY": (ErrorCode.INVALID, None),
    "INVALID_AMOUNT": (ErrorCode.INVALID, None),
    "INVALID_DISCOUNT": (ErrorCode.INVALID, None),
    "INVALID_BODY": (ErrorCode.INVALID, None),
    "INVALID_JSON": (ErrorCode.INVALID, ()),
    "INVALID_INVOICE_TYPE": (ErrorCode.INVALID, ()),
    "INVALID_STATUS": (ErrorCode.INVALID, ()),
    "INVALID_SUB_STATUS": (ErrorCode.INVALID, ()),
    "SUBSTATUS_MUST_BE_MANUAL": (ErrorCode.INVALID, ()),
    "CLIENT_MISMATCH": (ErrorCode.INVALID, None),
    "INVALID_CLIENT": (ErrorCode.NOT_FOUND, ("client",)),
    "CLIENT_NOT_FOUND": (ErrorCode.NOT_FOUND, ("client",)),
    "INVOICE_NOT_FOUND": (ErrorCode.NOT_FOUND, ("key",)),
    "INVOICEITEM_NOT_FOUND": (ErrorCode.NOT_FOUND, ("key",)),
    "INVALID_ID": (ErrorCode.NOT_FOUND, ("key",)),
    "BUSINESS_ACCESS_DENIED": (ErrorCode.NOT_FOUND, ()),
    "INVOICE_NOT_OPEN": (ErrorCode.INVALID_STATE, ()),
    "INVOICE_DELETED": (ErrorCode.INVALID_STATE, ()),
    "ITEM_ALREADY_INVOICED": (ErrorCode.INVALID_STATE, None),
}

# TimeTap property -> command field, for a line (LineInput, LineChange) ...
LINE_FIELDS: Mapping[str, str] = {
    "quantity": "quantity",
    "rate": "unit_price",
    "description": "description",
    "discountAmount": "discount",
    "discountPercentage": "discount",
    "taxable": "tax_rate",
}
# ... and for an invoice (CreateInvoice, UpdateInvoice).
INVOICE_FIELDS: Mapping[str, Path] = {
    "invoiceItem": ("lines",),
    "invoiceNumber": ("number",),
    "invoiceDueDate": ("due_on",),
    "invoiceDate": ("issued_on",),
    "comments": ("note",),
    "client": ("client",),
    "invoiceId": ("key",),
    "invoiceItemId": ("key",),
}
_LINE_AT = re.compile(r"^(?:invoiceItem)?\[(\d+)\]\.?(.*)$")

# Statuses whose error bodies are refusals of this write (others are failures).
REFUSALS = frozenset({400, 403, 404, 409, 410, 422})


def field_path(field_name: str | None) -> Path:
    """The command path of TimeTap's ``fieldName`` (``()`` when it names none)."""
    if not field_name:
        return ()
    line = _LINE_AT.match(field_name)
    if line is not None:
        index, prop = line.groups()
        at = ("lines", index)
        return (*at, LINE_FIELDS[prop]) if prop in LINE_FIELDS else at
    if field_name in LINE_FIELDS:
        return (LINE_FIELDS[field_name],)
    return INVOICE_FIELDS.get(field_name, ())


def user_error(detail: SourceErrorDetail) -> UserError:
    """One TimeTap error as a user error; an unknown code is UNKNOWN, its code kept."""
    code, fixed = ERRORS.get(detail.code, (ErrorCode.UNKNOWN, None))
    field = fixed if fixed is not None else field_path(detail.field)
    return UserError(field, code, detail.message or detail.code, detail.code)


def rejection(exc: UpstreamError) -> WriteRejected | None:
    """The refusal an upstream error is, or None when it is a failure (5xx, auth...)."""
    if exc.status not in REFUSALS:
        return None
    if not exc.details:
        return WriteRejected([UserError((), ErrorCode.UNKNOWN, exc.message)])
    return WriteRejected([user_error(d) for d in exc.details])


def raise_mapped(exc: UpstreamError) -> NoReturn:
    """Raise an upstream error as the refusal it is, else as itself."""
    refused = rejection(exc)
    if refused is not None:
        raise refused from exc
    raise exc
