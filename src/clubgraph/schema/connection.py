"""Relay connections: edges with opaque cursors, page info, and a total count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry
from strawberry import Private

from ..connectors.base import Row
from ..listing import Edge as ListingEdge
from ..listing import Page
from .errors import BadInput

NodeT = TypeVar("NodeT")


@strawberry.type(description="Where a page sits in its list, and the cursors to move from it.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when more items follow this page.")
    has_previous_page: bool = strawberry.field(
        description="True when this page was requested after a cursor (items precede it)."
    )
    # Cursors are encoded only when asked for.
    first: Private[ListingEdge[Any] | None] = None
    last: Private[ListingEdge[Any] | None] = None

    @strawberry.field(description="Cursor of the first edge; null on an empty page.")
    def start_cursor(self) -> str | None:
        return None if self.first is None else self.first.cursor

    @strawberry.field(
        description="Cursor of the last edge: pass it as `after` to get the next page."
    )
    def end_cursor(self) -> str | None:
        return None if self.last is None else self.last.cursor


@strawberry.type(description="One item of a list with its cursor.")
class Edge(Generic[NodeT]):
    node: NodeT = strawberry.field(description="The item.")
    at: Private[ListingEdge[Any]]

    @strawberry.field(
        description="Opaque cursor of this item: pass it as `after` to continue after it."
    )
    def cursor(self) -> str:
        return self.at.cursor


@strawberry.type(description="A page of a list (Relay connection).")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The items of this page, in order.")
    page_info: PageInfo = strawberry.field(description="Cursors and whether more pages exist.")
    total_count: int | None = strawberry.field(
        description=(
            "Number of items in the whole list, when every upstream behind it reports one. "
            "Null when one cannot tell: TimeTap's invoice lists carry no count, and a "
            "status the upstream cannot filter on is filtered here, page by page."
        )
    )

    @strawberry.field(description="The items of this page without their cursors.")
    def nodes(self) -> list[NodeT]:
        return self.node_list()

    def node_list(self) -> list[NodeT]:
        return [edge.node for edge in self.edges]


class FirstPage(Connection[Any]):
    """The first page of a list held in memory, ordered and cut (``memory_connection``).

    Its nodes are made at once; its edges (each with the point its cursor names) and
    its page info only when read. An invoice's lines and a client's plans are shown
    through ``nodes`` far more often than through ``edges``, and a query of 500
    invoices lists 500 of these pages.
    """

    def __init__(
        self,
        kind: str,
        stream_id: str,
        records: list[Any],
        order: Callable[[Any], tuple[Any, Any]],
        nodes: list[Any],
        has_next_page: bool,
        total_count: int,
    ) -> None:
        self._kind = kind
        self._stream = stream_id
        self._records = records
        self._order = order
        self._nodes = nodes
        self._has_next_page = has_next_page
        self._made: list[Edge[Any]] | None = None
        self.total_count = total_count

    def node_list(self) -> list[Any]:
        return self._nodes

    @property
    def edges(self) -> list[Edge[Any]]:  # type: ignore[override]
        made = self._made
        if made is None:
            made = self._made = []
            for index, (record, node) in enumerate(zip(self._records, self._nodes, strict=True)):
                sort, tiebreak = self._order(record)
                row = Row(0, record.key, sort, record, tiebreak)
                made.append(
                    Edge(node=node, at=ListingEdge(row, self._kind, None, self._stream, index))
                )
        return made

    @property
    def page_info(self) -> PageInfo:  # type: ignore[override]
        edges = self.edges
        return PageInfo(
            has_next_page=self._has_next_page,
            has_previous_page=False,
            first=edges[0].at if edges else None,
            last=edges[-1].at if edges else None,
        )


def page_size(requested: int | None, default: int, maximum: int, name: str = "first") -> int:
    """Validate a page size: above the maximum is an error, never a silent cut."""
    if requested is None:
        return default
    if requested < 0:
        raise BadInput(f"`{name}` must not be negative")
    if requested > maximum:
        raise BadInput(
            f"`{name}` is {requested}, above the maximum page size of {maximum}; "
            "request a smaller page and follow the page's cursors",
            code="PAGE_SIZE_EXCEEDED",
        )
    return requested


def to_connection(page: Page[Any], wrap: Callable[[Any], NodeT]) -> Connection[NodeT]:
    """Build a connection from a merged page, wrapping each row as a graph object."""
    edges = [Edge(node=wrap(e.row), at=e) for e in page.edges]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            first=page.edges[0] if page.edges else None,
            last=page.edges[-1] if page.edges else None,
        ),
        total_count=page.total_count,
    )
