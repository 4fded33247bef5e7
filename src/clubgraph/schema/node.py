"""What every entity type shares: the Node interface, the resolver context, list arguments."""

from __future__ import annotations

from typing import Annotated, TypeVar

import strawberry
from aiodataloader import DataLoader
from strawberry import Private
from strawberry.types import Info

from .. import ids
from ..domain import Key
from .context import Context
from .enums import InvoiceStatus, Source, SubscriptionStatus
from .errors import EntityNotFound

R = TypeVar("R")

Ctx = Info[Context, None]

RAW_DESCRIPTION = "The upstream JSON object this record was mapped from, unchanged, for debugging."
_SOURCE_ID = "The record's id in its source (opaque; may combine a parent id, e.g. client/invoice)."
_TENANT = "The source's tenant, business or company the record belongs to."


@strawberry.interface(description="An object with a globally unique, opaque ID (Relay).")
class Node:
    key: Private[Key]

    @strawberry.field(description="Global ID: pass it to `node(id:)` to fetch this object again.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(ids.encode(self.key))

    @strawberry.field(description="The upstream platform this record lives in.")
    def source(self) -> Source:
        return self.key.source

    @strawberry.field(description=_TENANT)
    def tenant_id(self) -> str:
        return self.key.tenant

    @strawberry.field(description=_SOURCE_ID)
    def source_id(self) -> str:
        return self.key.id


InvoiceStatusArg = Annotated[
    list[InvoiceStatus] | None,
    strawberry.argument(description="Only invoices in one of these statuses."),
]
SubscriptionStatusArg = Annotated[
    list[SubscriptionStatus] | None,
    strawberry.argument(description="Only subscriptions in one of these statuses."),
]


async def loaded(loader: DataLoader[Key, R | None], key: Key) -> R:
    """The record behind a key; an entity gone upstream is a NOT_FOUND error."""
    record = await loader.load(key)
    if record is None:
        raise EntityNotFound(f"{key.type.value} {ids.encode(key)}")
    return record
