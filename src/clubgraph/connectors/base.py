"""The contract every source connector fulfils.

A connector is the only code that knows its source's HTTP paths and JSON. It turns
batches of keys into batches of domain records (the loaders call these methods; a
connector with no batch endpoint issues one request per key, concurrently), and it
exposes its lists as *streams*: upstream-ordered sequences addressed by position,
which the list resolvers merge across sources and tenants.
"""

from __future__ import annotations

import abc
import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..commands import (
    SUBSCRIPTION_CAPABILITY,
    Capability,
    Channel,
    CreateInvoice,
    LineChange,
    LineInput,
    NotSupported,
    SubscriptionCommand,
    UpdateInvoice,
    WriteNotTraceable,
    WriteResult,
)
from ..domain import (
    ClientRecord,
    InvoiceItemRecord,
    InvoiceRecord,
    InvoiceStatus,
    Key,
    Source,
    SubscriptionRecord,
    SubscriptionStatus,
)
from ..errors import UpstreamBadResponse
from .drift import decoding

if TYPE_CHECKING:
    from ..cache import ReferenceCache

T = TypeVar("T")


class SortDirection(str, Enum):
    ASC = "ASC"
    DESC = "DESC"


class InvoiceSortField(str, Enum):
    ISSUED_AT = "ISSUED_AT"
    DUE_AT = "DUE_AT"
    TOTAL = "TOTAL"
    NUMBER = "NUMBER"


@dataclass(frozen=True, slots=True)
class InvoiceOrder:
    field: InvoiceSortField = InvoiceSortField.ISSUED_AT
    direction: SortDirection = SortDirection.DESC


@dataclass(frozen=True, slots=True)
class InvoiceFilter:
    """Filters on an invoice list; every field left at its default filters nothing.

    Date ranges include ``*_from`` and exclude ``*_until`` (timezone-aware instants).
    ``with_balance_due`` keeps only invoices with something left to pay (balance > 0).
    A connector pushes to the upstream what the upstream can apply and applies the
    rest locally with ``invoice_matches``: the results are the same either way.
    """

    statuses: frozenset[InvoiceStatus] = frozenset()
    tenant: str | None = None
    issued_from: datetime | None = None
    issued_until: datetime | None = None
    due_from: datetime | None = None
    due_until: datetime | None = None
    with_balance_due: bool = False


@dataclass(frozen=True, slots=True)
class SubscriptionFilter:
    statuses: frozenset[SubscriptionStatus] = frozenset()
    tenant: str | None = None


@dataclass(frozen=True, slots=True)
class ClientFilter:
    """``search``: case-insensitive substring of the display name or the email.
    ``email``: exactly this email, compared with ``normalize_email``."""

    tenant: str | None = None
    search: str | None = None
    email: str | None = None


def normalize_email(email: str | None) -> str | None:
    """The form in which emails are compared: trimmed and lower-cased."""
    if email is None:
        return None
    return email.strip().lower() or None


def _within(value: datetime | None, start: datetime | None, until: datetime | None) -> bool:
    if start is None and until is None:
        return True
    if value is None:
        return False
    return (start is None or value >= start) and (until is None or value < until)


def invoice_matches(record: InvoiceRecord, flt: InvoiceFilter) -> bool:
    """Whether an invoice passes a filter (the tenant is the caller's to check)."""
    return (
        (not flt.statuses or record.status in flt.statuses)
        and _within(record.issued_at, flt.issued_from, flt.issued_until)
        and _within(record.due_at, flt.due_from, flt.due_until)
        and (not flt.with_balance_due or record.balance_due.amount > 0)
    )


def client_matches(record: ClientRecord, flt: ClientFilter) -> bool:
    """Whether a client passes a filter (the tenant is the caller's to check)."""
    if flt.email is not None and normalize_email(record.email) != normalize_email(flt.email):
        return False
    if flt.search:
        needle = flt.search.strip().casefold()
        haystack = (record.display_name, record.email or "")
        return any(needle in text.casefold() for text in haystack)
    return True


def subscription_matches(record: SubscriptionRecord, flt: SubscriptionFilter) -> bool:
    return not flt.statuses or record.status in flt.statuses


@dataclass(frozen=True, slots=True)
class Row(Generic[T]):
    """One entry of a stream.

    ``position`` is the entry's index in the upstream's ordered list (before any
    local filtering): a hint where to resume. ``sort`` is the value the stream is
    ordered by (computed with the ``*_sort_value`` functions below) and is what the
    cross-source merge compares. ``tiebreak`` orders rows with equal ``sort``: the
    upstream id as the upstream breaks ties (an int or a str, one type per stream).
    A stream is strictly ordered by ``(sort, tiebreak)`` in its direction (both
    reversed when descending), so a cursor can resume after a row by its value even
    when rows were inserted or removed upstream in between. ``record`` is the full
    record when the upstream returned it, or ``None`` when only the key is known
    (the resolver then loads it through a loader). A stream that maps lazily passes
    ``make`` instead of the record. A row whose JSON does not map (the source drifted)
    is known by key only from then on: it is read by key like a row that came without
    its record, and fails alone (UPSTREAM_BAD_RESPONSE) if that read does not map
    either, while the other rows of the list are unaffected.
    """

    position: int
    key: Key
    sort: Any
    value: T | None = None
    tiebreak: Any = None
    # Maps the row's record on first use: a stream reads more rows than a merged page
    # shows, and only the rows shown need mapping.
    make: Callable[[], T] | None = field(default=None, compare=False, repr=False)

    def _what(self) -> str:
        return f"{self.key.type.value} {self.key.id}"

    @property
    def record(self) -> T | None:
        """The full record: as the upstream sent it (mapped on first use), or None
        when only the key is known."""
        if self.value is None and self.make is not None:
            try:
                with decoding(self.key.source, self._what):
                    value = self.make()
            except UpstreamBadResponse:
                object.__setattr__(self, "make", None)  # known by key only from now on
                return None
            object.__setattr__(self, "value", value)
        return self.value


@dataclass(frozen=True, slots=True)
class Chunk(Generic[T]):
    """Rows from one stream fetch, in stream order.

    ``exhausted`` is True when no row exists after the last one returned.
    ``total`` is the stream's total size when the upstream tells it.
    """

    rows: Sequence[Row[T]]
    exhausted: bool
    total: int | None = None


@dataclass(frozen=True, slots=True)
class Stream(Generic[T]):
    """One upstream-ordered list (one source, one tenant, possibly one status).

    ``fetch(start, count)`` returns at least ``count`` rows whose position is >=
    ``start`` (fewer only if the stream is exhausted); it may return more when the
    upstream's page boundaries make them free. ``id`` is stable across requests
    (it goes into cursors), e.g. ``"timetap:5001:OPEN"``.
    """

    id: str
    fetch: Callable[[int, int], Awaitable[Chunk[T]]]
    descending: bool = True
    meta: dict[str, Any] = field(default_factory=dict)


class Connector(abc.ABC):
    """One source: reads by key in batches, lists as streams, and the writes it can do.

    A write method either returns what changed or raises ``WriteRejected`` with
    user errors: rules the source documents are checked before any upstream call, and
    an upstream refusal is mapped to the same codes. A write of several upstream calls
    completes or undoes what it did (``PartialWrite`` when it cannot). Writes a source
    cannot do raise ``NotSupported``, never reach the upstream, and are absent from
    ``capabilities``.

    Every read a connector defines (by key, by parent, its streams' fetches) turns
    upstream JSON that does not map into ``UpstreamBadResponse`` (``drift.py``): the
    subclass's methods are wrapped when it is defined, so no connector repeats it.
    """

    source: Source
    capabilities: frozenset[Capability] = frozenset()
    # Reference data (tenants, businesses) through the shared cache, for its TTL; None:
    # read once per process. Given by the app when the cache is on.
    reference_cache: ReferenceCache | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, method in list(vars(cls).items()):
            if name in _READS:
                setattr(cls, name, _decoding_read(name, method))
            elif name in _LISTS:
                setattr(cls, name, _decoding_streams(name, method))
            elif name == "embedded_client":
                setattr(cls, name, _decoding_embedded(method))

    @abc.abstractmethod
    async def start(self) -> None:
        """Open the pooled HTTP session (called once by the app lifespan)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the pooled HTTP session."""

    @abc.abstractmethod
    async def tenants(self) -> Sequence[str]:
        """The tenant / business / company ids the configured credentials reach."""

    # --- reads by key: one result per key, in order, None where absent ---------

    @abc.abstractmethod
    async def clients(self, keys: Sequence[Key]) -> Sequence[ClientRecord | None]: ...

    @abc.abstractmethod
    async def invoices(self, keys: Sequence[Key]) -> Sequence[InvoiceRecord | None]: ...

    @abc.abstractmethod
    async def invoice_items(
        self, invoice_keys: Sequence[Key]
    ) -> Sequence[Sequence[InvoiceItemRecord]]:
        """Lines of each invoice (an unknown invoice gives an empty list)."""

    @abc.abstractmethod
    async def invoice_item(self, keys: Sequence[Key]) -> Sequence[InvoiceItemRecord | None]:
        """Single lines by their own key."""

    @abc.abstractmethod
    async def subscriptions(self, keys: Sequence[Key]) -> Sequence[SubscriptionRecord | None]: ...

    # --- reads by parent --------------------------------------------------------

    @abc.abstractmethod
    async def client_invoices(
        self, client_keys: Sequence[Key]
    ) -> Sequence[Sequence[InvoiceRecord]]:
        """All invoices of each client, newest first."""

    @abc.abstractmethod
    async def client_subscriptions(
        self, client_keys: Sequence[Key]
    ) -> Sequence[Sequence[SubscriptionRecord]]:
        """All subscriptions of each client (empty where the source has none)."""

    @abc.abstractmethod
    async def subscription_invoices(
        self, subscription_keys: Sequence[Key]
    ) -> Sequence[Sequence[InvoiceRecord]]:
        """Invoices billed under each subscription, newest first."""

    async def find_created_invoice(self, cmd: CreateInvoice, marker: str) -> WriteResult | None:
        """The invoice an earlier attempt of ``cmd`` created, found by the ``marker`` it
        left (``idempotency.write_marker``), or None when it created none;
        ``WriteNotTraceable`` where the source keeps no such mark."""
        raise WriteNotTraceable(self.source.value)

    def embedded_client(self, invoice: InvoiceRecord) -> ClientRecord | None:
        """The client record an invoice response carried in full, if any (for priming)."""
        return None

    async def clients_by_email(self, email: str) -> Sequence[ClientRecord]:
        """The clients a search by this (normalized) email finds, in every tenant reached;
        the caller compares emails. The email-filtered client lists read whole; a source
        that searches across its tenants in one call says so by overriding this."""
        streams = await self.client_streams(ClientFilter(email=email))
        found = await asyncio.gather(*(read_all(s) for s in streams))
        return [record for records in found for record in records]

    # --- lists --------------------------------------------------------------------

    @abc.abstractmethod
    async def client_streams(
        self, flt: ClientFilter, direction: SortDirection = SortDirection.ASC
    ) -> Sequence[Stream[ClientRecord]]:
        """Clients ordered by display name (``client_sort_value``), then id."""

    @abc.abstractmethod
    async def invoice_streams(
        self, flt: InvoiceFilter, order: InvoiceOrder
    ) -> Sequence[Stream[InvoiceRecord]]:
        """Invoices in ``order``, ties broken by the upstream id in the same direction."""

    @abc.abstractmethod
    async def subscription_streams(
        self, flt: SubscriptionFilter, direction: SortDirection = SortDirection.DESC
    ) -> Sequence[Stream[SubscriptionRecord]]:
        """Subscriptions ordered by start date (``subscription_sort_value``), then id."""

    # --- writes: each raises NotSupported unless the connector overrides it ----------

    async def create_invoice(self, cmd: CreateInvoice) -> WriteResult:
        """Create an invoice with its lines (``WriteResult.invoice``, lines included)."""
        raise NotSupported(self.source.value, Capability.CREATE_INVOICE)

    async def update_invoice(self, cmd: UpdateInvoice) -> WriteResult:
        """Change an invoice's attributes (``WriteResult.invoice``)."""
        raise NotSupported(self.source.value, Capability.UPDATE_INVOICE)

    async def send_invoice(self, key: Key) -> WriteResult:
        """Send an invoice to its client (finalizing a draft where needed)."""
        raise NotSupported(self.source.value, Capability.SEND_INVOICE)

    async def void_invoice(self, key: Key, reason: str | None) -> WriteResult:
        """Void (cancel, credit and retract) an invoice."""
        raise NotSupported(self.source.value, Capability.VOID_INVOICE)

    async def delete_invoice(self, key: Key) -> WriteResult:
        """Delete an invoice (``WriteResult.removed``)."""
        raise NotSupported(self.source.value, Capability.DELETE_INVOICE)

    async def add_invoice_items(self, key: Key, lines: Sequence[LineInput]) -> WriteResult:
        """Add lines to an invoice (``WriteResult.invoice`` with all its lines)."""
        raise NotSupported(self.source.value, Capability.ADD_INVOICE_ITEMS)

    async def update_invoice_item(self, key: Key, change: LineChange) -> WriteResult:
        """Change one line (``WriteResult.item`` and ``.invoice``)."""
        raise NotSupported(self.source.value, Capability.UPDATE_INVOICE_ITEM)

    async def remove_invoice_item(self, key: Key) -> WriteResult:
        """Remove one line (``WriteResult.removed``, and ``.invoice`` as it is now)."""
        raise NotSupported(self.source.value, Capability.REMOVE_INVOICE_ITEM)

    async def send_invoice_balance_link(self, key: Key, channels: Sequence[Channel]) -> WriteResult:
        """Send the client a link to pay what is left (``WriteResult.channels``)."""
        raise NotSupported(self.source.value, Capability.SEND_INVOICE_BALANCE_LINK)

    async def change_subscription(self, cmd: SubscriptionCommand) -> WriteResult:
        """Cancel, reactivate, freeze, ... a subscription (``WriteResult.subscription``)."""
        raise NotSupported(self.source.value, SUBSCRIPTION_CAPABILITY[cmd.op])


# --- upstream JSON that does not map: UpstreamBadResponse, at every read -----------

_READS = frozenset(
    {
        "tenants",
        "clients_by_email",
        "clients",
        "invoices",
        "invoice_items",
        "invoice_item",
        "subscriptions",
        "client_invoices",
        "client_subscriptions",
        "subscription_invoices",
    }
)
_LISTS = frozenset({"client_streams", "invoice_streams", "subscription_streams"})


async def read_all(stream: Stream[T]) -> list[T]:
    """Every record of a stream. A first small read, since what is read whole is mostly
    a search with a hit or two: it costs one request, where a read of the largest span
    would ask for several pages at once."""
    records: list[T] = []
    start, size = 0, 50
    while True:
        chunk = await stream.fetch(start, size)
        records.extend(row.record for row in chunk.rows if row.record is not None)
        if chunk.exhausted or not chunk.rows:
            return records
        start, size = chunk.rows[-1].position + 1, 500


def _decoding_read(name: str, read: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    @functools.wraps(read)
    async def decoded(self: Connector, *args: Any, **kwargs: Any) -> Any:
        with decoding(self.source, name):
            return await read(self, *args, **kwargs)

    return decoded


def _decoding_streams(
    name: str, open_streams: Callable[..., Awaitable[Sequence[Stream[Any]]]]
) -> Callable[..., Any]:
    @functools.wraps(open_streams)
    async def decoded(self: Connector, *args: Any, **kwargs: Any) -> Sequence[Stream[Any]]:
        with decoding(self.source, name):
            streams = await open_streams(self, *args, **kwargs)
        return [_decoding_stream(self.source, s) for s in streams]

    return decoded


def _decoding_stream(source: Source, stream: Stream[T]) -> Stream[T]:
    fetch = stream.fetch

    async def decoded(start: int, count: int) -> Chunk[T]:
        with decoding(source, f"list {stream.id}"):
            return await fetch(start, count)

    return replace(stream, fetch=decoded)


def _decoding_embedded(
    embedded: Callable[[Connector, InvoiceRecord], ClientRecord | None],
) -> Callable[[Connector, InvoiceRecord], ClientRecord | None]:
    @functools.wraps(embedded)
    def decoded(self: Connector, invoice: InvoiceRecord) -> ClientRecord | None:
        try:
            with decoding(self.source, "embedded client"):
                return embedded(self, invoice)
        except UpstreamBadResponse:
            return None  # not primed: the client is read by key when asked for

    return decoded


# --- sort values: every stream's Row.sort must be computed by these, so that rows
# from different sources compare in the cross-source merge. --------------------


def invoice_sort_value(record: InvoiceRecord, field: InvoiceSortField) -> Any:
    """The value an invoice list in ``field`` order is sorted by."""
    return invoice_sort_parts(
        field,
        issued_at=record.issued_at,
        due_at=record.due_at,
        total=record.total.amount,
        number=record.number,
    )


def invoice_sort_parts(
    field: InvoiceSortField,
    *,
    issued_at: Any,
    due_at: Any,
    total: Any,
    number: str | None,
) -> Any:
    """Same as ``invoice_sort_value`` for a source that knows only summary fields."""
    if field is InvoiceSortField.ISSUED_AT:
        return in_utc(issued_at)
    if field is InvoiceSortField.DUE_AT:
        # Invoices without a due date sort as if due when issued.
        return in_utc(due_at if due_at is not None else issued_at)
    if field is InvoiceSortField.TOTAL:
        return total
    return number or ""


def client_sort_value(record: ClientRecord) -> Any:
    return record.display_name.casefold()


def subscription_sort_value(record: SubscriptionRecord) -> Any:
    """Start date; subscriptions without one sort as the oldest."""
    return in_utc(record.starts_at) if record.starts_at else _EPOCH


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def in_utc(moment: Any) -> Any:
    """A sort value's instant in UTC. Aware datetimes compare by instant whatever their
    offsets, but two of different ``tzinfo`` compare thirty times slower than two of
    the same: a merge compares thousands (FitnessForce sends local offsets)."""
    if moment is None or moment.tzinfo is UTC:
        return moment
    return moment.astimezone(UTC)
