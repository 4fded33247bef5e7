"""Request validation with ClubCollect's documented error codes.

Each check returns the first failing code in the order the documentation lists
them, or None.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .data import State

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ADDRESS_REQUIRED = ("address1", "zipcode", "city", "country_code")
# Attributes PUT may change: those about the recipient, never the lines.
RECIPIENT_FIELDS = (
    "external_invoice_number",
    "direct_debit_iban",
    "federation_membership_number",
    "club_membership_number",
    "member_external_id",
    "external_membership_number",
    "locale",
)


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _sub(obj: Any, name: str) -> Mapping[str, Any]:
    value = obj.get(name) if isinstance(obj, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def customer_error(customer: Any) -> str | None:
    """Name and contact rules: at least one way to reach the customer."""
    if not _str(_sub(customer, "name").get("last_name")):
        return "invalid_customer_last_name"
    email = _str(_sub(customer, "email").get("email_address"))
    phone = _str(_sub(customer, "phone").get("phone_number"))
    address = _sub(customer, "address")
    address_given = any(_str(address.get(k)) for k in _ADDRESS_REQUIRED)
    address_ok = all(_str(address.get(k)) for k in _ADDRESS_REQUIRED)
    if email and not _EMAIL.match(email):
        return "invalid_customer_email"
    if phone and sum(ch.isdigit() for ch in phone) < 6:
        return "invalid_customer_phone"
    if email or phone:
        return None
    has = customer if isinstance(customer, Mapping) else {}
    if has.get("email") is not None and not address_ok:
        return "invalid_customer_email"
    if has.get("phone") is not None and not address_ok:
        return "invalid_customer_phone"
    if not address_ok or not address_given:
        return "invalid_customer_address"
    return None


def _external_number_error(body: Mapping[str, Any], *, required: bool) -> str | None:
    if "external_invoice_number" not in body and not required:
        return None
    if not _str(body.get("external_invoice_number")):
        return "invalid_external_invoice_number"
    return None


def create_error(body: Mapping[str, Any], state: State) -> tuple[int, str] | None:
    """``POST /api/v2/invoices``: (HTTP status, code) of the first failure."""
    imp = state.imports.get(_str(body.get("import_id")))
    if imp is None:
        return 422, "invalid_import_id"
    if imp["transmitted"]:
        # inferred code: the import documentation's own code for this case.
        return 422, "import_already_transmitted"
    code = _external_number_error(body, required=True) or customer_error(body.get("customer"))
    if code:
        return 422, code
    lines = body.get("invoice_lines")
    if (
        not isinstance(lines, list)
        or not lines
        or not all(
            isinstance(ln, Mapping)
            and type(ln.get("amount_cents")) is int
            and _str(ln.get("description"))
            for ln in lines
        )
    ):
        return 422, "invalid_invoice_lines"  # inferred code
    total = body.get("amount_total_cents")
    if type(total) is not int or total != sum(ln["amount_cents"] for ln in lines):
        return 422, "invalid_amount_total_cents"
    given = [_str(ln.get("invoice_line_id")) for ln in lines if ln.get("invoice_line_id")]
    if len(set(given)) != len(given) or any(g in state.line_ids for g in given):
        return 422, "duplicate_invoice_line_id"
    return None


def update_error(body: Mapping[str, Any], merged_customer: Any) -> tuple[int, str] | None:
    """``PUT /api/v2/invoices/:id`` (the invoice is known to exist)."""
    if "invoice_lines" in body or "amount_total_cents" in body:
        return 422, "invoice_lines_not_updatable"  # inferred code
    code = _external_number_error(body, required=False)
    if code is None and "customer" in body:
        code = customer_error(merged_customer)
    return (422, code) if code else None


def retract_error(body: Mapping[str, Any], invoice: Mapping[str, Any]) -> tuple[int, str] | None:
    """``POST /api/v2/invoices/:id/credit_and_retract``."""
    code = _external_number_error(body, required=False)
    if code is None and not _str(body.get("description")):
        code = "invalid_description"
    if code is None and invoice.get("retracted_at"):
        code = "already_retracted"
    if code is None and invoice.get("status") == "payment_in_progress":
        code = "payment_in_progress"
    return (422, code) if code else None
