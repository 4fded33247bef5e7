"""The UFP JSON objects the connector reads, as TypedDicts."""

from __future__ import annotations

from typing import Generic, TypedDict, TypeVar

T = TypeVar("T")


class ValidationError(TypedDict, total=False):
    """UFP's error object (documented)."""

    severity: str
    errorCode: str | None
    errorMessage: str | None
    identifier: str | None
    helptext: str | None
    jsonObject: None


class ErrorBody(TypedDict):
    errors: list[ValidationError]


class TokenResponse(TypedDict):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str


class Page(TypedDict, Generic[T]):
    """A paged list envelope."""

    page_number: int
    page_size: int
    total_records: int
    total_pages: int
    data: list[T]


class Tenant(TypedDict, total=False):
    tenant_id: int
    tenant_name: str
    currency_code: str
    time_zone: str


class Staff(TypedDict):
    staff_id: int
    staff_name: str


class Client(TypedDict, total=False):
    client_id: int
    tenant_id: int
    member_id: str
    first_name: str | None
    last_name: str | None
    full_name: str | None
    email: str | None
    mobile_number: str | None
    date_of_birth: str | None
    client_status: str
    created_date: str | None


class TaxGroup(TypedDict):
    tax_group_id: int
    tax_group_name: str
    tax_percentage: float


class InvoiceDetail(TypedDict, total=False):
    """One invoice line, embedded in the invoice as ``invoice_details``."""

    invoice_detail_id: int
    line_number: int
    charge_name: str
    charge_type: str | None
    quantity: int | float
    unit_price: int | float
    discount_amount: int | float
    tax_group: TaxGroup | None
    tax_amount: int | float
    net_amount: int | float


class Invoice(TypedDict, total=False):
    invoice_id: int
    invoice_number: str | None
    tenant_id: int
    client_id: int
    subscription_id: int | None
    invoice_date: str
    due_date: str | None
    paid_date: str | None
    status: str
    currency_code: str
    gross_amount: int | float
    discount_amount: int | float
    tax_amount: int | float
    net_amount: int | float
    paid_amount: int | float
    refunded_amount: int | float
    balance_amount: int | float
    sales_rep: Staff | None
    remarks: str | None
    invoice_details: list[InvoiceDetail]


class Freeze(TypedDict):
    freeze_id: int
    freeze_start_date: str
    freeze_end_date: str
    status: str
    reason: str | None


class Subscription(TypedDict, total=False):
    subscription_id: int
    client_id: int
    tenant_id: int
    plan_id: int | None
    plan_name: str
    subscription_status: str
    billing_frequency: str | None
    recurring_amount: int | float | None
    currency_code: str
    start_date: str | None
    end_date: str | None
    next_billing_date: str | None
    freezes: list[Freeze]


class ChannelDelivery(TypedDict, total=False):
    """One entry of the documented send_invoice_clear_balance_link response."""

    channel: str
    client_id: int | None
    staff_id: int | None
    success: bool
    error: ValidationError | None
