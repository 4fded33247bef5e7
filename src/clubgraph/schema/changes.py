"""Live billing: the changes the sources announce, as GraphQL subscription events.

Each subscription opens an inbox on the broker (``events/broker.py``) and, for every
event, reads the entity again through the connection's loaders, emptied first: the
subscriber sees the state after the change, and only what its own principal may see
(an entity it may not see is never announced to it, exactly as if it did not exist).
Events reach one subscriber one after the other, in the order they were published;
an event id seen already on this subscription (a change published again after a
restart, or redelivered) is not delivered twice.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncGenerator, Callable
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from graphql import GraphQLError

from .. import ids
from ..domain import EntityType, Key
from ..events.broker import Drained, FellBehind
from ..events.model import Change, ChangeEvent, EventKind
from .enums import InvoiceStatus, Source
from .errors import EntityNotFound
from .money import Money
from .node import Ctx

if TYPE_CHECKING:
    from .invoice import Invoice
    from .subscription import Subscription

# Event ids a subscription remembers, to drop one delivered again.
_REMEMBERED = 1024


_CHANGE = "Whether the entity was created, updated or deleted."
_OCCURRED = "When the source says it happened (a poller: when it was found)."
_SOURCE = "The platform that announced it."
_RAW = (
    "The source's own name for the change (`invoice.voided`, `payment.received`, "
    "`notification` for ClubCollect, `poll` for a change found by polling)."
)


@strawberry.enum(description="How an entity changed.")
class ChangeType(Enum):
    CREATED = strawberry.enum_value("created", description="It appeared upstream.")
    UPDATED = strawberry.enum_value("updated", description="It changed (paid, voided, ...).")
    DELETED = strawberry.enum_value("deleted", description="It is gone upstream.")


_CHANGE_TYPES = {
    Change.CREATED: ChangeType.CREATED,
    Change.UPDATED: ChangeType.UPDATED,
    Change.DELETED: ChangeType.DELETED,
}


@strawberry.input(description="Which invoice changes to receive; every field narrows.")
class InvoiceChangeFilter:
    client_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this client's invoices."
    )
    source: list[Source] | None = strawberry.field(
        default=None, description="Only invoices of these sources."
    )
    status: list[InvoiceStatus] | None = strawberry.field(
        default=None, description="Only invoices whose status after the change is one of these."
    )


@strawberry.type(description="An invoice was created, changed or deleted upstream.")
class InvoiceChange:
    event_id: strawberry.ID = strawberry.field(description="Unique per change.")
    change: ChangeType = strawberry.field(description=_CHANGE)
    occurred_at: datetime = strawberry.field(description=_OCCURRED)
    source: Source = strawberry.field(description=_SOURCE)
    invoice_id: strawberry.ID = strawberry.field(description="The invoice's global ID.")
    invoice: Annotated[Invoice, strawberry.lazy(".invoice")] | None = strawberry.field(
        description="The invoice as it is now, read after the change (null: deleted)."
    )
    raw_type: str = strawberry.field(description=_RAW)


@strawberry.type(description="A membership or recurring plan was created or changed upstream.")
class SubscriptionChange:
    event_id: strawberry.ID = strawberry.field(description="Unique per change.")
    change: ChangeType = strawberry.field(description=_CHANGE)
    occurred_at: datetime = strawberry.field(description=_OCCURRED)
    source: Source = strawberry.field(description=_SOURCE)
    subscription_id: strawberry.ID = strawberry.field(description="The subscription's global ID.")
    subscription: Annotated[Subscription, strawberry.lazy(".subscription")] | None = (
        strawberry.field(description="The subscription as it is now (null: deleted).")
    )
    raw_type: str = strawberry.field(description=_RAW)


@strawberry.type(description="Money was received against an invoice.")
class PaymentReceived:
    event_id: strawberry.ID = strawberry.field(description="Unique per payment.")
    occurred_at: datetime = strawberry.field(description=_OCCURRED)
    source: Source = strawberry.field(description=_SOURCE)
    amount: Money = strawberry.field(description="How much was received.")
    invoice_id: strawberry.ID = strawberry.field(description="The paid invoice's global ID.")
    invoice: Annotated[Invoice, strawberry.lazy(".invoice")] | None = strawberry.field(
        description="The invoice paid, as it is after the payment."
    )
    client_id: strawberry.ID | None = strawberry.field(
        description="The global ID of the client who paid."
    )
    raw_type: str = strawberry.field(description=_RAW)


async def _events(info: Ctx, kind: EventKind) -> AsyncGenerator[ChangeEvent, None]:
    """The events of ``kind`` published from now on, each once, in order; before each,
    the connection's loaders forget what they loaded, so reads after it are fresh."""
    hub = info.context.events
    if hub is None:
        raise RuntimeError("live billing events are not running on this server")
    inbox = hub.broker.open()
    seen: deque[str] = deque(maxlen=_REMEMBERED)
    try:
        while True:
            try:
                event = await inbox.next()
            except Drained:
                return
            except FellBehind as exc:
                raise GraphQLError(str(exc), extensions={"code": "FELL_BEHIND"}) from None
            if event.kind is not kind or event.id in seen:
                continue
            seen.append(event.id)
            info.context.loaders.forget()
            yield event
    finally:
        inbox.close()


async def _visible_client(info: Ctx, client_id: strawberry.ID) -> Key:
    """The key of a client the caller may see; NOT_FOUND otherwise."""
    key = ids.decode(client_id, EntityType.CLIENT)
    if await info.context.loaders.client.load(key) is None:
        raise EntityNotFound(f"client {client_id}")
    return key


async def _client_of(info: Ctx, event: ChangeEvent, load: Callable[[Key], Any]) -> Key | None:
    if event.client_key is not None:
        return event.client_key
    record = await load(event.key)
    return getattr(record, "client_key", None)


async def invoice_changes(
    info: Ctx, filter: InvoiceChangeFilter | None
) -> AsyncGenerator[InvoiceChange, None]:
    from .invoice import Invoice

    client = None if filter is None or filter.client_id is None else filter.client_id
    client_key = await _visible_client(info, client) if client is not None else None
    sources = set(filter.source) if filter is not None and filter.source else None
    statuses = set(filter.status) if filter is not None and filter.status else None
    principal = info.context.principal
    async for event in _events(info, EventKind.INVOICE):
        if sources is not None and event.source not in sources:
            continue
        loaders = info.context.loaders
        if client_key is not None and (
            await _client_of(info, event, loaders.invoice.load) != client_key
        ):
            continue
        invoice: Invoice | None = None
        if event.change is Change.DELETED:
            if not principal.may_see_invoice(event.key, event.client_key) or statuses:
                continue
        else:
            record = await loaders.invoice.load(event.key)
            if record is None or (statuses is not None and record.status not in statuses):
                continue
            invoice = Invoice(key=event.key, record=record)
        yield InvoiceChange(
            event_id=strawberry.ID(event.id),
            change=_CHANGE_TYPES[event.change],
            occurred_at=event.occurred_at,
            source=event.source,
            invoice_id=strawberry.ID(ids.encode(event.key)),
            invoice=invoice,
            raw_type=event.raw,
        )


async def subscription_changes(
    info: Ctx, client_id: strawberry.ID
) -> AsyncGenerator[SubscriptionChange, None]:
    from .subscription import Subscription

    client_key = await _visible_client(info, client_id)
    principal = info.context.principal
    async for event in _events(info, EventKind.SUBSCRIPTION):
        loaders = info.context.loaders
        if await _client_of(info, event, loaders.subscription.load) != client_key:
            continue
        subscription: Subscription | None = None
        if event.change is Change.DELETED:
            if not principal.may_see_subscription(event.key, client_key):
                continue
        else:
            record = await loaders.subscription.load(event.key)
            if record is None:
                continue
            subscription = Subscription(key=event.key, record=record)
        yield SubscriptionChange(
            event_id=strawberry.ID(event.id),
            change=_CHANGE_TYPES[event.change],
            occurred_at=event.occurred_at,
            source=event.source,
            subscription_id=strawberry.ID(ids.encode(event.key)),
            subscription=subscription,
            raw_type=event.raw,
        )


async def payments(info: Ctx, client_id: strawberry.ID) -> AsyncGenerator[PaymentReceived, None]:
    from .invoice import Invoice

    client_key = await _visible_client(info, client_id)
    async for event in _events(info, EventKind.PAYMENT):
        loaders = info.context.loaders
        if await _client_of(info, event, loaders.invoice.load) != client_key:
            continue
        # The invoice paid must be one the caller may see.
        record = await loaders.invoice.load(event.key)
        if record is None or event.amount is None:
            continue
        yield PaymentReceived(
            event_id=strawberry.ID(event.id),
            occurred_at=event.occurred_at,
            source=event.source,
            amount=Money.of(event.amount),
            invoice_id=strawberry.ID(ids.encode(event.key)),
            invoice=Invoice(key=event.key, record=record),
            client_id=strawberry.ID(ids.encode(client_key)),
            raw_type=event.raw,
        )
