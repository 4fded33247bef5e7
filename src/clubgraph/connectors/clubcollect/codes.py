"""ClubCollect's error codes as unified user errors: one table, pinpointed per command.

Each code maps to a unified ``ErrorCode`` and the command field it is about (python
field names of the command dataclasses; ``("key",)`` and ``("reason",)`` are the
arguments of ``send_invoice``/``void_invoice``/``delete_invoice``). The pre-checks in
``rules`` take their codes and fields from here too, so that a mistake refused before
the upstream and the same mistake refused by it read the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal

from ...commands import CreateInvoice, ErrorCode, LineInput, UpdateInvoice, UserError, WriteRejected
from ...errors import (
    SourceErrorDetail,
    UpstreamConflict,
    UpstreamError,
    UpstreamNotFound,
    UpstreamValidationError,
)
from .api import MESSAGES

Field = tuple[str, ...]
Command = CreateInvoice | UpdateInvoice | None

# source code -> (unified code, command field)
CODES: Mapping[str, tuple[ErrorCode, Field]] = {
    # documented: create, update, credit_and_retract, delete
    "invalid_import_id": (ErrorCode.NOT_FOUND, ()),
    "invalid_invoice_id": (ErrorCode.NOT_FOUND, ("key",)),
    "invalid_external_invoice_number": (ErrorCode.REQUIRED, ("number",)),
    "invalid_customer_last_name": (ErrorCode.REQUIRED, ("recipient", "last_name")),
    "invalid_customer_email": (ErrorCode.CONTACT_REQUIRED, ("recipient", "email")),
    "invalid_customer_phone": (ErrorCode.CONTACT_REQUIRED, ("recipient", "phone")),
    "invalid_customer_address": (ErrorCode.CONTACT_REQUIRED, ("recipient", "address")),
    "invalid_amount_total_cents": (ErrorCode.AMOUNT_MISMATCH, ("total",)),
    "duplicate_invoice_line_id": (ErrorCode.DUPLICATE, ("lines",)),
    "invalid_description": (ErrorCode.REQUIRED, ("reason",)),
    "already_retracted": (ErrorCode.ALREADY_DONE, ()),
    "payment_in_progress": (ErrorCode.PAYMENT_IN_PROGRESS, ()),
    # clubgraph's own request was malformed: nothing the caller can correct
    "invalid_content_type": (ErrorCode.UPSTREAM_FAILED, ()),
    # documented for imports
    "invalid_company_id": (ErrorCode.NOT_FOUND, ("tenant",)),
    "import_already_transmitted": (ErrorCode.INVALID_STATE, ()),
    # inferred: codes the sandbox serves where the documentation names none
    "invoice_already_transmitted": (ErrorCode.INVALID_STATE, ()),
    "invalid_invoice_lines": (ErrorCode.INVALID, ("lines",)),
    "invoice_lines_not_updatable": (ErrorCode.INVALID, ()),
    "not_found": (ErrorCode.NOT_FOUND, ("key",)),
    "invalid_json": (ErrorCode.UPSTREAM_FAILED, ()),
}

# Statuses that mean "refused": anything else is the upstream failing.
REFUSALS = (UpstreamValidationError, UpstreamNotFound, UpstreamConflict)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# ClubCollect texts a customer: a phone number needs a few digits to be one.
MIN_PHONE_DIGITS = 6


def blank(value: str | None) -> bool:
    return value is None or not value.strip()


def bad_email(email: str | None) -> bool:
    """Given, and not shaped like an address."""
    return not blank(email) and _EMAIL.match((email or "").strip()) is None


def bad_phone(phone: str | None) -> bool:
    """Given, and with too few digits to call."""
    return not blank(phone) and sum(ch.isdigit() for ch in phone or "") < MIN_PHONE_DIGITS


def line_cents(line: LineInput) -> int | None:
    """The line's amount in cents (quantity x unit price - discount), None if not whole."""
    amount = line.quantity * line.unit_price - (line.discount or Decimal(0))
    scaled = amount.scaleb(2)
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        return None
    return int(scaled)


def repeated_line(lines: Sequence[LineInput]) -> int | None:
    """The index of the first line whose id an earlier line already has."""
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if line.line_id is None:
            continue
        if line.line_id.strip() in seen:
            return i
        seen.add(line.line_id.strip())
    return None


def _pinpoint(
    source_code: str, code: ErrorCode, field: Field, command: Command
) -> tuple[ErrorCode, Field]:
    """Narrow a code to what the command shows (the upstream names no line or cause)."""
    recipient = command.recipient if command is not None else None
    if source_code == "invalid_customer_email" and recipient and not blank(recipient.email):
        return ErrorCode.INVALID, field
    if source_code == "invalid_customer_phone" and recipient and not blank(recipient.phone):
        return ErrorCode.INVALID, field
    if not isinstance(command, CreateInvoice):
        return code, field
    lines = command.lines
    if source_code == "duplicate_invoice_line_id":
        repeated = repeated_line(lines)
        with_ids = [i for i, line in enumerate(lines) if line.line_id is not None]
        if repeated is None and len(with_ids) == 1:
            repeated = with_ids[0]
        return (
            (code, ("lines", str(repeated), "line_id")) if repeated is not None else (code, field)
        )
    if source_code == "invalid_invoice_lines":
        if not lines:
            return ErrorCode.REQUIRED, ("lines",)
        for i, line in enumerate(lines):
            if blank(line.description):
                return ErrorCode.REQUIRED, ("lines", str(i), "description")
    return code, field


def user_error(
    source_code: str,
    command: Command = None,
    *,
    message: str | None = None,
    upstream: bool = True,
) -> UserError:
    """The user error a ClubCollect code means for ``command`` (UNKNOWN if unknown)."""
    # upstream=False: a pre-check's finding of the same mistake, so no source code.
    code, field = CODES.get(source_code, (ErrorCode.UNKNOWN, ()))
    code, field = _pinpoint(source_code, code, field, command)
    text = message or MESSAGES.get(source_code) or f"ClubCollect refused: {source_code}"
    return UserError(field, code, text, source_code if upstream else None)


def rejection(exc: UpstreamError, command: Command = None) -> WriteRejected | None:
    """What a refusal by ClubCollect means; None when the upstream failed instead."""
    if not isinstance(exc, REFUSALS):
        return None
    details: Sequence[SourceErrorDetail] = exc.details
    if details:
        return WriteRejected([user_error(d.code, command, message=d.message) for d in details])
    if isinstance(exc, UpstreamNotFound):
        return WriteRejected([user_error("invalid_invoice_id", command)])
    return WriteRejected([UserError((), ErrorCode.UNKNOWN, exc.message)])
