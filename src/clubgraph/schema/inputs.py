"""List arguments: paging, invoice order, and the filters a list can take."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any, TypeVar

import strawberry

from ..connectors.base import (
    InvoiceFilter,
    InvoiceOrder,
    InvoiceSortField,
    Row,
    SortDirection,
)
from ..domain import InvoiceStatus
from ..listing import OpenStreams, Page, memory_page, paginate
from .connection import Connection, FirstPage, page_size, to_connection
from .errors import BadInput

R = TypeVar("R")
NodeT = TypeVar("NodeT")

strawberry.enum(
    InvoiceSortField,
    name="InvoiceOrderField",
    description=(
        "What invoices are ordered by: ISSUED_AT (issue date), DUE_AT (due date; an "
        "invoice without one counts as due when issued), TOTAL (amount, whatever the "
        "currency), NUMBER (invoice number as text)."
    ),
)
strawberry.enum(
    SortDirection, name="OrderDirection", description="ASC: smallest first. DESC: largest first."
)


@strawberry.input(description="How to order invoices. Ties are broken the same way on every page.")
class InvoiceOrderInput:
    field: InvoiceSortField = strawberry.field(
        default=InvoiceSortField.ISSUED_AT, description="What to order by."
    )
    direction: SortDirection = strawberry.field(
        default=SortDirection.DESC, description="Which way."
    )

    def to_order(self) -> InvoiceOrder:
        return InvoiceOrder(self.field, self.direction)


@strawberry.input(
    description="A span of time: `from` included, `until` excluded. Each needs an offset."
)
class DateTimeRange:
    from_: datetime | None = strawberry.field(
        default=None, name="from", description="Start, included, e.g. 2026-10-01T00:00:00Z."
    )
    until: datetime | None = strawberry.field(
        default=None, description="End, excluded, e.g. 2026-11-01T00:00:00Z."
    )

    def bounds(self, argument: str) -> tuple[datetime | None, datetime | None]:
        for value in (self.from_, self.until):
            if value is not None and value.tzinfo is None:
                raise BadInput(f"`{argument}` needs a timezone offset, e.g. 2026-10-01T00:00:00Z")
        if self.from_ and self.until and self.until < self.from_:
            raise BadInput(f"`{argument}`: `until` is before `from`")
        return self.from_, self.until


FirstArg = Annotated[
    int | None,
    strawberry.argument(
        description="Items after `after` (or from the start); at most the maximum page size."
    ),
]
AfterArg = Annotated[str | None, strawberry.argument(description="Return items after this cursor.")]
LastArg = Annotated[
    int | None,
    strawberry.argument(
        description="Items before `before` (or at the end); at most the maximum page size."
    ),
]
BeforeArg = Annotated[
    str | None, strawberry.argument(description="Return items before this cursor.")
]
InvoiceOrderArg = Annotated[
    InvoiceOrderInput | None,
    strawberry.argument(description="Order of the list (default: newest issued first)."),
]
IssuedArg = Annotated[
    DateTimeRange | None, strawberry.argument(description="Only invoices issued in this span.")
]
DueArg = Annotated[
    DateTimeRange | None, strawberry.argument(description="Only invoices due in this span.")
]
WithBalanceDueArg = Annotated[
    bool | None,
    strawberry.argument(description="True: only invoices with something left to pay."),
]


@dataclass(frozen=True, slots=True)
class PageArgs:
    first: int | None
    after: str | None
    last: int | None
    before: str | None


def page_args(
    info: Any, first: int | None, after: str | None, last: int | None, before: str | None
) -> PageArgs:
    """Validated paging arguments; neither `first` nor `last` means a default first page."""
    settings = info.context.settings
    if first is None and after is None and last is None and before is None:
        return _first_page(settings.default_page_size)
    if first is not None and last is not None:
        raise BadInput("pass `first` or `last`, not both")
    if last is not None:
        return PageArgs(None, after, page_size(last, 0, settings.max_page_size, "last"), before)
    size = page_size(first, settings.default_page_size, settings.max_page_size, "first")
    return PageArgs(size, after, None, before)


@functools.lru_cache(maxsize=16)
def _first_page(size: int) -> PageArgs:
    """The arguments of a list asked for without any (most of the lists nested in a
    query): one frozen value per default page size."""
    return PageArgs(size, None, None, None)


async def page_of(kind: str, open_streams: OpenStreams, args: PageArgs) -> Page[Any]:
    return await paginate(
        kind, open_streams, first=args.first, after=args.after, last=args.last, before=args.before
    )


async def page_in_memory(
    kind: str, stream_id: str, rows: Sequence[Row[Any]], *, descending: bool, args: PageArgs
) -> Page[Any]:
    """A page of a list held in memory (``memory_page``)."""
    return await memory_page(
        kind,
        stream_id,
        rows,
        descending=descending,
        first=args.first,
        after=args.after,
        last=args.last,
        before=args.before,
    )


async def memory_connection(
    kind: str,
    stream_id: str,
    records: Iterable[R],
    *,
    order: Callable[[R], tuple[Any, Any]],
    descending: bool,
    args: PageArgs,
    wrap: Callable[[R], NodeT],
) -> Connection[NodeT]:
    """A connection over records held in memory: ordered by ``order`` (a record's
    ``(sort, tiebreak)``, what its row would carry), each shown as ``wrap(record)``.

    The first page (no cursor, no ``last``) is cut here and made lazily (``FirstPage``),
    with the nodes, edges and cursors ``memory_page`` and ``to_connection`` give;
    every other page goes through them.
    """
    if args.last is None and args.after is None and args.before is None:
        ordered = sorted(records, key=order, reverse=descending)
        count = args.first if args.first is not None else 0
        shown = ordered[:count]
        nodes = [wrap(record) for record in shown]
        return FirstPage(kind, stream_id, shown, order, nodes, len(ordered) > count, len(ordered))
    rows = []
    for record in records:
        sort, tiebreak = order(record)
        rows.append(Row(0, record.key, sort, record, tiebreak))  # type: ignore[attr-defined]
    page = await page_in_memory(kind, stream_id, rows, descending=descending, args=args)
    return to_connection(page, lambda row: wrap(row.record))


def invoice_filter(
    *,
    status: list[InvoiceStatus] | None = None,
    tenant: str | None = None,
    issued: DateTimeRange | None = None,
    due: DateTimeRange | None = None,
    with_balance_due: bool | None = None,
) -> InvoiceFilter:
    issued_from, issued_until = issued.bounds("issued") if issued else (None, None)
    due_from, due_until = due.bounds("due") if due else (None, None)
    return InvoiceFilter(
        statuses=frozenset(status or ()),
        tenant=tenant,
        issued_from=issued_from,
        issued_until=issued_until,
        due_from=due_from,
        due_until=due_until,
        with_balance_due=bool(with_balance_due),
    )


def reverse(order: InvoiceOrder) -> InvoiceOrder:
    flipped = SortDirection.ASC if order.direction is SortDirection.DESC else SortDirection.DESC
    return replace(order, direction=flipped)


@functools.lru_cache(maxsize=256)
def describe(flt: Any) -> str:
    """A stable text of a filter, for cursor kinds: a cursor only works with its filter.
    (Filters are frozen: the text of the few a process sees is kept.)"""
    parts = []
    for name in sorted(flt.__dataclass_fields__):
        value = getattr(flt, name)
        if isinstance(value, frozenset):
            value = ",".join(sorted(v.value for v in value))
        elif isinstance(value, datetime):
            value = value.isoformat()
        parts.append(f"{name}={value}")
    return ";".join(parts)
