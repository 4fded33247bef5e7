"""What every entity type shares: the Node interface, the resolver context, list arguments."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

import strawberry
from aiodataloader import DataLoader
from strawberry import Private
from strawberry.scalars import JSON
from strawberry.types import Info

from .. import domain, ids
from ..domain import EntityType, Key
from .context import Context
from .enums import InvoiceStatus, Source, SubscriptionStatus
from .errors import EntityNotFound

R = TypeVar("R")

Ctx = Info[Context, None]

# The attribute a resolver made by ``record_field`` reads from the record, and its wrap.
RECORD_READ = "__clubgraph_record_read__"

RAW_DESCRIPTION = "The upstream JSON object this record was mapped from, unchanged, for debugging."
_SOURCE_ID = "The record's id in its source (opaque; may combine a parent id, e.g. client/invoice)."
_TENANT = "The source's tenant, business or company the record belongs to."


@strawberry.interface(description="An object with a globally unique, opaque ID (Relay).")
class Node:
    key: Private[Key]

    @classmethod
    def of_record(cls, record: Any) -> Any:
        """The entity of a record at hand (every entity type keeps it as ``record``)."""
        return cls(key=record.key, record=record)  # type: ignore[call-arg]

    @classmethod
    def of_row(cls, row: Any) -> Any:
        """The entity of a list row: its record when the list carried it, else its key
        alone (the record is loaded when a field needs it)."""
        return cls(key=row.key, record=row.record)  # type: ignore[call-arg]

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


# Federation: each entity type is a key by its global ID, and by source, tenant and
# source id (what another subgraph may hold of it).
ENTITY_KEYS = ["id", "source tenantId sourceId"]


def reference_key(entity: EntityType, representation: Mapping[str, Any]) -> Key:
    """The key a gateway's entity representation names (either @key)."""
    global_id = representation.get("id")
    if global_id is not None:
        return ids.decode(str(global_id), entity)
    try:
        source = domain.Source(str(representation["source"]).lower())
        return Key(entity, source, str(representation["tenantId"]), str(representation["sourceId"]))
    except (KeyError, ValueError) as exc:
        raise ids.InvalidGlobalId(f"not a {entity.value} representation") from exc


def raw_json(raw: Mapping[str, Any]) -> JSON:
    """A record's upstream JSON as the JSON scalar."""
    return JSON(dict(raw))


def record_field(
    attribute: str, *, description: str, wrap: Callable[[Any], Any] | None = None
) -> Any:
    """A field that shows one attribute of its entity's record, ``wrap`` turning it into
    the field's GraphQL type where the record's value does not serve it as it is (a
    record's ``domain.Money`` does: it has the ``Money`` type's attributes); the field's
    type is its annotation.

    The record is loaded when the entity came without one. The compiled executor
    (``execution.py``) reads ``RECORD_READ`` and takes the attribute straight from a
    record that is there, without a coroutine per field.
    """

    async def resolve(self: Any, info: Ctx) -> Any:
        record = self.record or await self._rec(info)
        value = getattr(record, attribute)
        return value if wrap is None else wrap(value)

    # The field's annotation gives its type: the resolver declares none of its own.
    del resolve.__annotations__["return"]
    setattr(resolve, RECORD_READ, (attribute, wrap))
    return strawberry.field(resolver=resolve, description=description)


async def loaded(loader: DataLoader[Key, R | None], key: Key) -> R:
    """The record behind a key; an entity gone upstream is a NOT_FOUND error."""
    record = await loader.load(key)
    if record is None:
        raise EntityNotFound(f"{key.type.value} {ids.encode(key)}")
    return record
