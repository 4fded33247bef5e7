"""The unified enums, as GraphQL enums."""

from __future__ import annotations

import strawberry

from .. import domain
from ..commands import Capability

strawberry.enum(
    domain.Source,
    name="Source",
    description=(
        "The upstream billing platform a record lives in: FITNESSFORCE (FitnessForce UFP), "
        "TIMETAP, CLUBCOLLECT or TIGHT."
    ),
)
strawberry.enum(
    domain.InvoiceStatus,
    name="InvoiceStatus",
    description=(
        "Invoice status unified over the sources. DRAFT: not sent yet. SCHEDULED: will be "
        "sent later. OPEN: sent, nothing paid. PARTIALLY_PAID: some paid, balance due. PAID: "
        "settled. PAYMENT_FAILED: a payment was declined or charged back. VOID: cancelled or "
        "credited and retracted. REFUNDED: paid then refunded. DELETED: removed upstream. "
        "UNKNOWN: a value this server does not know yet; `statusRaw` holds it."
    ),
)
strawberry.enum(
    domain.SubscriptionStatus,
    name="SubscriptionStatus",
    description=(
        "Membership or recurring-plan status. PENDING: not started. ACTIVE: billing. FROZEN: "
        "paused for a period. CANCELLED: stopped by the member or club. EXPIRED: ran to its "
        "end. VOID: annulled. UNKNOWN: see `statusRaw`."
    ),
)
strawberry.enum(
    domain.SubscriptionKind,
    name="SubscriptionKind",
    description=(
        "MEMBERSHIP: a FitnessForce client subscription to a plan. RECURRING_INVOICE: a Tight "
        "recurring invoice that bills on a schedule."
    ),
)
strawberry.enum(
    domain.BillingInterval,
    name="BillingInterval",
    description="How often a subscription bills; UNKNOWN keeps the raw value in `intervalRaw`.",
)
strawberry.enum(
    domain.InvoiceItemKind,
    name="InvoiceItemKind",
    description=(
        "What a line is for: CHARGE (goods or services), DISCOUNT, FEE, REFUND (money back, "
        "negative), TAX, or UNKNOWN (see `kindRaw`)."
    ),
)

Source = domain.Source
InvoiceStatus = domain.InvoiceStatus
SubscriptionStatus = domain.SubscriptionStatus
SubscriptionKind = domain.SubscriptionKind
BillingInterval = domain.BillingInterval
InvoiceItemKind = domain.InvoiceItemKind

# Registered here, with the other enums, before any type that shows it is built.
strawberry.enum(
    Capability,
    name="Capability",
    description="A write a source can do; a UI can hide what a club's source cannot do.",
)
