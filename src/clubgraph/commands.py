"""Writes as the domain sees them: commands, capabilities, and errors that are data.

A connector receives these commands and knows its source's rules; the GraphQL layer
turns them into mutations. Nothing here knows a source's JSON or GraphQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from .domain import Key


class Capability(str, Enum):
    """A write a source may support; `Query.sources` lists them per source."""

    CREATE_INVOICE = "CREATE_INVOICE"
    UPDATE_INVOICE = "UPDATE_INVOICE"
    SEND_INVOICE = "SEND_INVOICE"
    VOID_INVOICE = "VOID_INVOICE"
    DELETE_INVOICE = "DELETE_INVOICE"
    ADD_INVOICE_ITEMS = "ADD_INVOICE_ITEMS"
    UPDATE_INVOICE_ITEM = "UPDATE_INVOICE_ITEM"
    REMOVE_INVOICE_ITEM = "REMOVE_INVOICE_ITEM"
    SEND_INVOICE_BALANCE_LINK = "SEND_INVOICE_BALANCE_LINK"
    CANCEL_SUBSCRIPTION = "CANCEL_SUBSCRIPTION"
    REACTIVATE_SUBSCRIPTION = "REACTIVATE_SUBSCRIPTION"
    FREEZE_SUBSCRIPTION = "FREEZE_SUBSCRIPTION"
    STOP_SUBSCRIPTION_FREEZE = "STOP_SUBSCRIPTION_FREEZE"
    CANCEL_SUBSCRIPTION_FREEZE = "CANCEL_SUBSCRIPTION_FREEZE"
    CHANGE_SUBSCRIPTION_START = "CHANGE_SUBSCRIPTION_START"
    CHANGE_SUBSCRIPTION_END = "CHANGE_SUBSCRIPTION_END"
    VOID_SUBSCRIPTION = "VOID_SUBSCRIPTION"


class ErrorCode(str, Enum):
    """Why a write was refused, unified over the sources."""

    REQUIRED = "REQUIRED"  # a value the source needs is missing
    INVALID = "INVALID"  # a value is malformed or out of range
    TOO_LONG = "TOO_LONG"  # a text exceeds the source's limit
    CONTACT_REQUIRED = "CONTACT_REQUIRED"  # ClubCollect: email, phone or address needed
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"  # a total differs from the sum of its lines
    CONFLICTING_DISCOUNTS = "CONFLICTING_DISCOUNTS"  # Tight: discount amount and percent
    PAYMENT_METHOD_REQUIRED = "PAYMENT_METHOD_REQUIRED"  # Tight: accept cash, card or ACH
    DUPLICATE = "DUPLICATE"  # an id the source already has (e.g. an invoice line id)
    NOT_FOUND = "NOT_FOUND"  # the entity does not exist (or is not the caller's)
    FORBIDDEN = "FORBIDDEN"  # the caller may not make this change (a member writing)
    NOT_SUPPORTED = "NOT_SUPPORTED"  # the source cannot do this at all
    INVALID_STATE = "INVALID_STATE"  # not in this state (sent, transmitted, not a draft...)
    ALREADY_DONE = "ALREADY_DONE"  # e.g. already retracted, already voided
    PAYMENT_IN_PROGRESS = "PAYMENT_IN_PROGRESS"  # ClubCollect: a payment is under way
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"  # the key was used for another request
    IN_PROGRESS = "IN_PROGRESS"  # the same key's first request has not finished
    # The key's first request stopped mid-write and the source cannot tell whether the
    # write arrived: not written again; check the source before using a new key.
    IN_DOUBT = "IN_DOUBT"
    UPSTREAM_FAILED = "UPSTREAM_FAILED"  # the source failed; nothing is known to be lost
    UNKNOWN = "UNKNOWN"  # the source refused with a code this server does not know


class WriteNotTraceable(Exception):
    """The source keeps no mark of who wrote what: a write cut off midway cannot be
    looked for there."""


@dataclass(frozen=True, slots=True)
class UserError:
    """One reason a write was refused: the input field at fault (a path of input
    field names, empty for the whole input), a unified code, a human message, and
    the source's own code when the source gave one."""

    field: tuple[str, ...]
    code: ErrorCode
    message: str
    source_code: str | None = None


class WriteRejected(Exception):
    """A write refused with errors the caller can act on (before or by the upstream)."""

    def __init__(self, errors: Sequence[UserError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = tuple(errors)


class NotSupported(WriteRejected):
    """The source cannot do this operation at all."""

    def __init__(self, source: str, capability: Capability) -> None:
        message = f"{source} does not support {capability.value.lower().replace('_', ' ')}"
        super().__init__([UserError((), ErrorCode.NOT_SUPPORTED, message)])
        self.capability = capability


class PartialWrite(Exception):
    """A multi-step write failed midway and could not be undone: ``created`` names what
    exists upstream now, so the caller can report exactly that."""

    def __init__(self, message: str, created: Sequence[Key], cause: BaseException) -> None:
        super().__init__(message)
        self.created = tuple(created)
        self.cause = cause


# --- inputs --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineInput:
    """One invoice line to create. Amounts are exact, in major units of the invoice's
    currency. ``discount`` is an amount off this line; ``tax_rate`` a percentage."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal | None = None
    tax_rate: Decimal | None = None
    line_id: str | None = None  # the caller's id for the line, where the source keeps one


@dataclass(frozen=True, slots=True)
class LineChange:
    """Changes to an existing line; None leaves a value as it is."""

    description: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    discount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Address:
    street: str | None = None
    house_number: str | None = None
    zip_code: str | None = None
    city: str | None = None
    country_code: str | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who an invoice goes to, where the source keeps it on the invoice (ClubCollect)."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: Address | None = None
    membership_number: str | None = None


@dataclass(frozen=True, slots=True)
class CreateInvoice:
    """A new invoice with its lines.

    ``client`` is an existing client (TimeTap, Tight); ``tenant`` is where to create
    it when there is no client (ClubCollect: the company), and ``recipient`` the
    customer written on it (ClubCollect). Tight-only: ``discount_amount`` xor
    ``discount_percent``, ``accept_cash``/``accept_card``/``accept_ach`` (at least one
    true), ``custom_json`` (at most 2,000 characters). ``send`` finalizes and sends it
    at once where the source creates drafts (Tight): a second upstream call.
    """

    lines: Sequence[LineInput]
    client: Key | None = None
    tenant: str | None = None
    recipient: Recipient | None = None
    currency: str | None = None
    issued_on: date | None = None
    due_on: date | None = None
    number: str | None = None
    note: str | None = None
    total: Decimal | None = None  # ClubCollect: must equal the sum of the lines if given
    discount_amount: Decimal | None = None
    discount_percent: Decimal | None = None
    accept_cash: bool | None = None
    accept_card: bool | None = None
    accept_ach: bool | None = None
    custom_json: str | None = None
    send: bool = False


@dataclass(frozen=True, slots=True)
class UpdateInvoice:
    """Changes to an invoice; None leaves a value as it is. ClubCollect takes only the
    recipient and the number; lines never change this way."""

    key: Key
    recipient: Recipient | None = None
    number: str | None = None
    due_on: date | None = None
    note: str | None = None


class Channel(str, Enum):
    """FitnessForce channels for a balance link (as its API names them)."""

    NONE = "None"
    EMAIL = "Email"
    SMS = "SMS"
    WHATSAPP = "WhatsApp"
    MOBILE_NOTIFICATION = "MobileNotification"
    DESKTOP = "Desktop"
    TASK = "Task"


@dataclass(frozen=True, slots=True)
class ChannelResult:
    channel: Channel
    success: bool
    error: UserError | None = None


class SubscriptionOp(str, Enum):
    CANCEL = "CANCEL"
    REACTIVATE = "REACTIVATE"
    FREEZE = "FREEZE"
    STOP_FREEZE = "STOP_FREEZE"
    CANCEL_FREEZE = "CANCEL_FREEZE"
    CHANGE_START = "CHANGE_START"
    CHANGE_END = "CHANGE_END"
    VOID = "VOID"


SUBSCRIPTION_CAPABILITY = {
    SubscriptionOp.CANCEL: Capability.CANCEL_SUBSCRIPTION,
    SubscriptionOp.REACTIVATE: Capability.REACTIVATE_SUBSCRIPTION,
    SubscriptionOp.FREEZE: Capability.FREEZE_SUBSCRIPTION,
    SubscriptionOp.STOP_FREEZE: Capability.STOP_SUBSCRIPTION_FREEZE,
    SubscriptionOp.CANCEL_FREEZE: Capability.CANCEL_SUBSCRIPTION_FREEZE,
    SubscriptionOp.CHANGE_START: Capability.CHANGE_SUBSCRIPTION_START,
    SubscriptionOp.CHANGE_END: Capability.CHANGE_SUBSCRIPTION_END,
    SubscriptionOp.VOID: Capability.VOID_SUBSCRIPTION,
}


@dataclass(frozen=True, slots=True)
class SubscriptionCommand:
    """One operation on a subscription. ``on`` is the date it takes effect (cancel,
    reactivate, change start/end, stop a freeze); a freeze runs ``from_date`` to
    ``until_date``; ``reason`` is free text where the source keeps one."""

    key: Key
    op: SubscriptionOp
    on: date | None = None
    from_date: date | None = None
    until_date: date | None = None
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write changed: the entity to show, and any entity it removed."""

    invoice: Any = None  # InvoiceRecord
    item: Any = None  # InvoiceItemRecord
    subscription: Any = None  # SubscriptionRecord
    removed: Key | None = None
    channels: tuple[ChannelResult, ...] = ()
    at: datetime | None = None
