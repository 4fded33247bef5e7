"""Commands as ClubCollect request bodies (after ``rules`` accepted them)."""

from __future__ import annotations

from typing import Any, cast

from ...commands import Address, CreateInvoice, Recipient, UpdateInvoice
from .codes import line_cents
from .types import AddressJSON, CustomerJSON, NameJSON


def address(value: Address) -> AddressJSON:
    return {
        "address1": value.street,
        "house_number": value.house_number,
        "zipcode": value.zip_code,
        "city": value.city,
        "country_code": value.country_code,
    }


def customer(recipient: Recipient | None, *, partial: bool = False) -> CustomerJSON:
    """The customer object; ``partial`` leaves out what the recipient leaves as it is."""
    # A channel is sent only when given, so that an empty one is refused by its own code.
    r = recipient or Recipient()
    out: CustomerJSON = {}
    name: dict[str, str | None] = {"first_name": r.first_name, "last_name": r.last_name}
    if partial:
        name = {k: v for k, v in name.items() if v is not None}
    if name:
        out["name"] = cast(NameJSON, name)
    if r.email is not None:
        out["email"] = {"email_address": r.email.strip()}
    if r.phone is not None:
        out["phone"] = {"phone_number": r.phone.strip()}
    if r.address is not None:
        out["address"] = address(r.address)
    return out


def new_invoice(
    command: CreateInvoice,
    import_id: str,
    stored_customer: CustomerJSON | None = None,
    stored_membership: str | None = None,
) -> dict[str, Any]:
    """``POST /api/v2/invoices``; the client's stored customer when no recipient is given."""
    lines: list[dict[str, Any]] = []
    for line in command.lines:
        amount = line_cents(line)
        if amount is None:
            raise ValueError(f"not whole cents: {line}")
        body: dict[str, Any] = {"amount_cents": amount, "description": line.description.strip()}
        if line.line_id is not None:
            body["invoice_line_id"] = line.line_id.strip()
        lines.append(body)
    total = sum(ln["amount_cents"] for ln in lines)
    if command.total is not None:
        # Sent as given: a mismatch is the upstream's to refuse as well.
        total = int(command.total.scaleb(2).to_integral_value())
    use_stored = command.recipient is None and stored_customer is not None
    out: dict[str, Any] = {
        "import_id": import_id,
        "external_invoice_number": (command.number or "").strip(),
        "customer": stored_customer if use_stored else customer(command.recipient),
        "invoice_lines": lines,
        "amount_total_cents": total,
    }
    membership = command.recipient.membership_number if command.recipient else None
    membership = membership if membership is not None else stored_membership
    if membership is not None:
        out["club_membership_number"] = membership.strip()
    if command.due_on is not None:
        out["due_date"] = command.due_on.isoformat()
    return out


def invoice_changes(command: UpdateInvoice) -> dict[str, Any]:
    """``PUT /api/v2/invoices/:id``: only what the command changes."""
    out: dict[str, Any] = {}
    if command.number is not None:
        out["external_invoice_number"] = command.number.strip()
    r = command.recipient
    if r is not None:
        changed = customer(r, partial=True)
        if changed:
            out["customer"] = changed
        if r.membership_number is not None:
            out["club_membership_number"] = r.membership_number.strip()
    return out
