"""The raw JSON of the ClubCollect API v2, as TypedDicts.

Fields marked "inferred" are not in ClubCollect's published documentation; the
sandbox serves them and the mapping treats them as optional.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class CompanyJSON(TypedDict):
    company_id: str
    name: str
    brand: str
    email: str
    locale: str
    address1: NotRequired[str | None]
    address2: NotRequired[str | None]
    house_number: NotRequired[str | None]
    zipcode: NotRequired[str | None]
    city: NotRequired[str | None]
    country_code: str
    currency: str


class PageJSON(TypedDict):
    page_number: int
    total_pages: int


class CompanyListJSON(TypedDict):
    """``GET /api/v2/companies`` (inferred)."""

    companies: list[CompanyJSON]
    page: PageJSON


class ImportSummaryJSON(TypedDict):
    company_id: str
    import_id: str
    title: str | None
    transmitted: bool
    transmitted_at: str | None


class ImportListJSON(TypedDict):
    """``GET /api/v2/companies/:id/imports``."""

    imports: list[ImportSummaryJSON]
    page: PageJSON


class ImportJSON(TypedDict):
    import_id: str
    title: str | None
    transmitted: bool
    transmitted_at: str | None
    prepaid_amount_cents: int
    prepaid_amount_currency: str
    settled_amount_cents: int
    settled_amount_currency: str
    expected_invoices_count: int
    invoice_ids: list[str]


class NameJSON(TypedDict, total=False):
    prefix: str | None
    first_name: str | None
    infix: str | None
    last_name: str
    organization: str | None


class AddressJSON(TypedDict, total=False):
    address1: str | None
    address2: str | None
    locality: str | None
    house_number: str | None
    state: str | None
    zipcode: str | None
    city: str | None
    country_code: str | None


class EmailJSON(TypedDict):
    email_address: str | None


class PhoneJSON(TypedDict, total=False):
    phone_number: str | None
    country_code: str | None


class CustomerJSON(TypedDict, total=False):
    name: NameJSON
    address: AddressJSON | None
    email: EmailJSON | None
    phone: PhoneJSON | None


class InvoiceLineJSON(TypedDict):
    invoice_line_id: str
    type: str
    subtype: NotRequired[str | None]
    amount_cents: int
    description: str | None
    date: str | None
    payment_method: NotRequired[str]


class MessageJSON(TypedDict):
    message_id: str
    type: str
    description: str | None
    date: str


class TicketJSON(TypedDict):
    ticket_id: str
    message: str
    sender: str
    date: str


class InvoiceJSON(TypedDict):
    invoice_id: str
    import_id: str
    external_invoice_number: str | None
    reference: NotRequired[str | None]
    invoice_number: NotRequired[str | None]
    direct_debit_iban: NotRequired[str | None]
    federation_membership_number: NotRequired[str | None]
    club_membership_number: NotRequired[str | None]
    member_external_id: NotRequired[str | None]
    external_membership_number: NotRequired[str | None]
    locale: NotRequired[str | None]
    customer: CustomerJSON
    invoice_lines: list[InvoiceLineJSON]
    amount_total_cents: int
    messages: NotRequired[list[MessageJSON]]
    tickets: NotRequired[list[TicketJSON]]
    retracted_at: NotRequired[str | None]
    retraction_reason: NotRequired[str | None]
    show_retraction_reason_to_customer: NotRequired[bool]
    # inferred: the fields below are not in the published documentation.
    status: NotRequired[str]
    amount_paid_cents: NotRequired[int]
    amount_open_cents: NotRequired[int]
    created_at: NotRequired[str]
    transmitted_at: NotRequired[str | None]
    due_date: NotRequired[str | None]


class ErrorJSON(TypedDict, total=False):
    """Error bodies: ``{"error": "code"}`` or ``{"errors": "code"}``."""

    error: str
    errors: str | list[str]
