"""The sandbox's UFP world: JSON objects by id, status vocabularies, value formats."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

JSON = dict[str, Any]

# Invoice statuses the sandbox uses (inferred: the seed does not list them).
INVOICE_STATUSES = (
    "Draft",
    "Unpaid",
    "PartiallyPaid",
    "Paid",
    "PaymentFailed",
    "Void",
    "WrittenOff",
    "Refunded",
    "PartiallyRefunded",
)
SUBSCRIPTION_STATUSES = (
    "Pending",
    "Active",
    "Frozen",
    "PendingCancellation",
    "Cancelled",
    "Expired",
    "Void",
)
FREEZE_STATUSES = ("Scheduled", "Active", "Completed", "Stopped", "Cancelled")
CHANNELS = ("None", "Email", "SMS", "WhatsApp", "MobileNotification", "Desktop", "Task")


@dataclass(slots=True)
class FitnessForceState:
    """The sandbox's mutable world: UFP JSON objects keyed by their ids."""

    tenants: dict[int, JSON]
    staff: dict[int, JSON]
    plans: dict[int, JSON]
    clients: dict[int, JSON]
    subscriptions: dict[int, JSON]
    invoices: dict[int, JSON]
    counters: dict[str, int] = field(default_factory=dict)
    # Payments taken through the sandbox (``/__sandbox/simulate/payment``), by id; the
    # seeded history keeps only the amounts on its invoices.
    payments: dict[int, JSON] = field(default_factory=dict)

    def new_id(self, kind: str) -> int:
        """The next id of ``kind`` (``freeze``, ``payment``, ...)."""
        self.counters[kind] = self.counters.get(kind, 0) + 1
        return self.counters[kind]


def money(cents: int) -> float:
    """Cents as a UFP decimal amount (the float's shortest repr is the exact decimal)."""
    return cents / 100


def stamp(moment: datetime, tz: str) -> str:
    """A UFP datetime: ISO 8601 in the tenant's local time with its offset."""
    return moment.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")
