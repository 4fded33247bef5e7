"""ClubCollect's documented rules, checked on a command before any upstream call.

Each finding is the user error the upstream's refusal of the same mistake maps to
(``codes.user_error(..., upstream=False)``); checks of clubgraph's own (what the
ClubCollect API has no place for) are INVALID on the field it cannot take.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from ...commands import (
    Address,
    CreateInvoice,
    ErrorCode,
    Recipient,
    UpdateInvoice,
    UserError,
    WriteRejected,
)
from .codes import bad_email, bad_phone, blank, line_cents, repeated_line, user_error

CONTACT_MESSAGE = (
    "Give an email address, a phone number or a full postal address "
    "(street, zip code, city and country) to reach the customer."
)


def refuse(*errors: UserError) -> NoReturn:
    """Refuse the write with these errors."""
    raise WriteRejected(errors)


def require(errors: Sequence[UserError]) -> None:
    """Refuse the write when any rule failed."""
    if errors:
        raise WriteRejected(errors)


def address_complete(address: Address | None) -> bool:
    """The parts ClubCollect needs to send a letter."""
    if address is None:
        return False
    parts = (address.street, address.zip_code, address.city, address.country_code)
    return not any(blank(p) for p in parts)


def recipient_errors(recipient: Recipient | None, command: CreateInvoice) -> list[UserError]:
    """A new invoice's customer: a last name and one way to reach them."""
    r = recipient or Recipient()
    errors: list[UserError] = []
    if blank(r.last_name):
        errors.append(user_error("invalid_customer_last_name", command, upstream=False))
    errors += _format_errors(r, command)
    if blank(r.email) and blank(r.phone) and not address_complete(r.address):
        # The upstream names the channel the customer object offered but left empty.
        code = (
            "invalid_customer_email"
            if r.email is not None
            else "invalid_customer_phone"
            if r.phone is not None
            else "invalid_customer_address"
        )
        errors.append(user_error(code, command, message=CONTACT_MESSAGE, upstream=False))
    return errors


def _format_errors(r: Recipient, command: CreateInvoice | UpdateInvoice) -> list[UserError]:
    errors: list[UserError] = []
    if bad_email(r.email):
        errors.append(
            user_error(
                "invalid_customer_email",
                command,
                message=f"{r.email!r} is not an email address.",
                upstream=False,
            )
        )
    if bad_phone(r.phone):
        errors.append(
            user_error(
                "invalid_customer_phone",
                command,
                message=f"{r.phone!r} is not a phone number.",
                upstream=False,
            )
        )
    return errors


def _invalid(field: str, message: str) -> UserError:
    return UserError((field,), ErrorCode.INVALID, message)


def line_errors(command: CreateInvoice) -> list[UserError]:
    """At least one line; each described, in whole cents, without tax; ids unique."""
    if not command.lines:
        return [user_error("invalid_invoice_lines", command, upstream=False)]
    errors: list[UserError] = []
    for i, line in enumerate(command.lines):
        at = ("lines", str(i))
        if blank(line.description):
            errors.append(
                UserError((*at, "description"), ErrorCode.REQUIRED, "A line needs a description.")
            )
        if line_cents(line) is None:
            errors.append(
                UserError(
                    (*at, "unit_price"),
                    ErrorCode.INVALID,
                    "ClubCollect bills whole cents: quantity x unit price - discount "
                    f"is {line.quantity * line.unit_price - (line.discount or 0)}.",
                )
            )
        if line.tax_rate is not None and line.tax_rate != 0:
            errors.append(
                UserError((*at, "tax_rate"), ErrorCode.INVALID, "ClubCollect lines carry no tax.")
            )
        if line.line_id is not None and blank(line.line_id):
            errors.append(
                UserError((*at, "line_id"), ErrorCode.INVALID, "A line id cannot be blank.")
            )
    repeated = repeated_line(command.lines)
    if repeated is not None:
        errors.append(
            user_error(
                "duplicate_invoice_line_id",
                command,
                message=f"Line id {command.lines[repeated].line_id!r} is used twice.",
                upstream=False,
            )
        )
    return errors


def total_errors(command: CreateInvoice) -> list[UserError]:
    """``total``, when given, equals the sum of the lines to the cent."""
    if command.total is None:
        return []
    amounts = [line_cents(line) for line in command.lines]
    if any(a is None for a in amounts):
        return []
    expected = sum(a for a in amounts if a is not None)
    if command.total.scaleb(2) == expected:
        return []
    message = f"The total {command.total} is not the sum of the lines, {expected / 100:.2f}."
    return [user_error("invalid_amount_total_cents", command, message=message, upstream=False)]


# Fields of a CreateInvoice that ClubCollect has no place for, and why.
_UNTAKEN = {
    "issued_on": "ClubCollect dates an invoice when it is sent.",
    "note": "ClubCollect invoices carry no note.",
    "discount_amount": "ClubCollect discounts are lines with a negative amount.",
    "discount_percent": "ClubCollect discounts are lines with a negative amount.",
    "accept_cash": "ClubCollect chooses the payment methods itself.",
    "accept_card": "ClubCollect chooses the payment methods itself.",
    "accept_ach": "ClubCollect chooses the payment methods itself.",
    "custom_json": "ClubCollect invoices carry no custom data.",
}


def create_errors(command: CreateInvoice, currency: str) -> list[UserError]:
    """Everything ClubCollect would refuse in a new invoice, in its documented order."""
    errors: list[UserError] = []
    if blank(command.number):
        errors.append(user_error("invalid_external_invoice_number", command, upstream=False))
    if command.recipient is not None or command.client is None:
        errors += recipient_errors(command.recipient, command)
    errors += line_errors(command)
    errors += total_errors(command)
    if command.currency is not None and command.currency.upper() != currency:
        errors.append(_invalid("currency", f"This company bills in {currency}."))
    errors += [_invalid(f, why) for f, why in _UNTAKEN.items() if getattr(command, f) is not None]
    return errors


def update_errors(command: UpdateInvoice) -> list[UserError]:
    """What a change can be refused for without knowing the stored customer."""
    # Whether the customer keeps a way to be reached depends on what the upstream
    # holds (the index may lag), so that rule is the upstream's; it maps the same.
    errors: list[UserError] = []
    if command.number is not None and blank(command.number):
        errors.append(user_error("invalid_external_invoice_number", command, upstream=False))
    r = command.recipient
    if r is not None:
        if r.last_name is not None and blank(r.last_name):
            errors.append(user_error("invalid_customer_last_name", command, upstream=False))
        errors += _format_errors(r, command)
    if command.due_on is not None:
        errors.append(
            _invalid("due_on", "ClubCollect keeps the due date an invoice was created with.")
        )
    if command.note is not None:
        errors.append(_invalid("note", "ClubCollect invoices carry no note."))
    return errors


def reason_errors(reason: str | None) -> list[UserError]:
    """A retraction needs a description: the reason."""
    return [user_error("invalid_description", upstream=False)] if blank(reason) else []
