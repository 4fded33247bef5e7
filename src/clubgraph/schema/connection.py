"""Relay connections: edges with opaque cursors, page info, and a total count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry

from ..listing import Page
from .errors import BadInput

NodeT = TypeVar("NodeT")


@strawberry.type(description="Where a page sits in its list, and the cursors to move from it.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when more items follow this page.")
    has_previous_page: bool = strawberry.field(
        description="True when this page was requested after a cursor (items precede it)."
    )
    start_cursor: str | None = strawberry.field(
        description="Cursor of the first edge; null on an empty page."
    )
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last edge: pass it as `after` to get the next page."
    )


@strawberry.type(description="One item of a list with its cursor.")
class Edge(Generic[NodeT]):
    cursor: str = strawberry.field(
        description="Opaque cursor of this item: pass it as `after` to continue after it."
    )
    node: NodeT = strawberry.field(description="The item.")


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
        return [edge.node for edge in self.edges]


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
    edges = [Edge(cursor=e.cursor, node=wrap(e.row)) for e in page.edges]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=page.total_count,
    )
