"""What the sources announce, as one kind of event for every source.

A FitnessForce webhook, a ClubCollect notification and a change a poller finds in
TimeTap or Tight all become ``ChangeEvent`` values: which entity changed (its key, and
its client's where known), how, when, and for a payment how much. An event names the
entity, it does not carry it: subscribers read the entity again, through their own
loaders and so their own authorization, when they deliver the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from ..domain import EntityType, Key, Money, Source


class EventKind(str, Enum):
    """What changed: an invoice, a membership or plan, or money received."""

    INVOICE = "invoice"
    SUBSCRIPTION = "subscription"
    PAYMENT = "payment"


class Change(str, Enum):
    """How it changed."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    RECEIVED = "received"  # a payment


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One change announced by a source.

    ``id`` is unique and stable: the same delivery received twice gives events with
    the same ids. ``key`` is the entity (a payment's is the invoice it pays);
    ``client_key`` the client it belongs to, when the announcement says. ``raw`` is
    the announcement's own type (``invoice.updated``, a ClubCollect notification, a
    poller's finding), for debugging.
    """

    id: str
    kind: EventKind
    change: Change
    key: Key
    client_key: Key | None
    occurred_at: datetime
    raw: str
    amount: Money | None = None

    @property
    def source(self) -> Source:
        return self.key.source

    def to_json(self) -> dict[str, Any]:
        """A JSON object that ``from_json`` turns back into this event (Redis, the log)."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "change": self.change.value,
            "key": _key_json(self.key),
            "client": None if self.client_key is None else _key_json(self.client_key),
            "at": self.occurred_at.isoformat(),
            "raw": self.raw,
            "amount": None
            if self.amount is None
            else [str(self.amount.amount), self.amount.currency],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChangeEvent:
        """The event ``to_json`` gave; ``ValueError`` (or ``KeyError``) when malformed."""
        occurred = datetime.fromisoformat(data["at"])
        if occurred.tzinfo is None:
            raise ValueError("an event's time must carry its offset")
        amount = data.get("amount")
        return cls(
            id=str(data["id"]),
            kind=EventKind(data["kind"]),
            change=Change(data["change"]),
            key=_key(data["key"]),
            client_key=None if data.get("client") is None else _key(data["client"]),
            occurred_at=occurred,
            raw=str(data["raw"]),
            amount=None if amount is None else Money(Decimal(amount[0]), str(amount[1])),
        )


def _key_json(key: Key) -> list[str]:
    return [key.type.value, key.source.value, key.tenant, key.id]


def _key(data: Any) -> Key:
    type_, source, tenant, id_ = data
    return Key(EntityType(type_), Source(source), str(tenant), str(id_))
