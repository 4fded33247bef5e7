"""Streams over upstream lists paged by page number and size."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from ..domain import Key
from .base import Chunk, Row, Stream
from .drift import DRIFT
from .rows import map_row, read_row

T = TypeVar("T")

# (zero-based page index, page size) -> (records of that page, total when known)
PageFetcher = Callable[[int, int], Awaitable[tuple[Sequence[T], int | None]]]


def paged_stream(
    stream_id: str,
    *,
    page_size: int,
    fetch_page: PageFetcher[T],
    key: Callable[[T], Key],
    sort: Callable[[T], Any],
    tiebreak: Callable[[T], Any] | None = None,
    keep: Callable[[T], bool] | None = None,
    descending: bool = True,
    mapper: Callable[[Any], T] | None = None,
) -> Stream[T]:
    """A stream over an upstream list paged by page number and size.

    ``page_size`` is the largest page the upstream serves. Each fetch picks the page
    size that covers the requested span in as few requests as the upstream allows
    (one, when the span fits in a page), so that a page of the graph reads from the
    upstream only what it needs plus what the upstream's page boundaries force.
    When ``keep`` filters rows out locally (a filter the upstream cannot apply),
    further pages are read one by one until enough rows are found or the list ends.

    With ``mapper``, ``fetch_page`` returns the upstream's raw items and ``key``,
    ``sort`` and ``tiebreak`` read them raw; a row's record is mapped only when used
    (``keep`` sees mapped records). Raw items may be ``LazyRow``s (``rows.py``): the
    mapper gets the decoded row. An item that does not map cannot be filtered here:
    it is kept, and its row is read by key when shown (see ``Row``).
    """

    def row(position: int, item: Any) -> Row[T]:
        if mapper is None:
            tie = tiebreak(item) if tiebreak else None
            return Row(position, key(item), sort(item), item, tie)
        # Raw items: what a ``Mapper`` reads from a row seen before is read once.
        tie = read_row(tiebreak, item) if tiebreak else None
        return Row(
            position,
            read_row(key, item),
            read_row(sort, item),
            None,
            tie,
            partial(map_row, mapper, item),
        )

    if mapper is not None and keep is not None:
        keep_mapped, map_item = keep, mapper

        def keep_raw(item: Any) -> bool:
            try:
                record = map_row(map_item, item)
            except DRIFT:
                return True
            return keep_mapped(record)

        keep = keep_raw

    async def fetch(start: int, count: int) -> Chunk[T]:
        size = span_page_size(start, max(count, 1), page_size)
        first = start // size
        last = (start + max(count, 1) - 1) // size
        pages = await asyncio.gather(*(fetch_page(p, size) for p in range(first, last + 1)))
        rows: list[Row[T]] = []
        total: int | None = None
        page = first
        for records, total in pages:
            if _collect(rows, records, page, size, start, keep, row, total):
                return Chunk(rows, True, total if keep is None else None)
            page += 1
        # Rows filtered out locally: read on in the largest pages until enough are kept.
        position = page * size
        size = page_size
        page = position // size
        while len(rows) < count:
            records, total = await fetch_page(page, size)
            if _collect(rows, records, page, size, max(start, position), keep, row, total):
                return Chunk(rows, True, total if keep is None else None)
            page += 1
        return Chunk(rows, False, total if keep is None else None)

    return Stream(stream_id, fetch, descending)


def span_page_size(start: int, count: int, largest: int) -> int:
    """The smallest page size whose one page covers positions [start, start + count).

    The largest page when no page size can (then the span takes several pages).
    """
    for size in range(min(count, largest), largest + 1):
        if (start // size + 1) * size >= start + count:
            return size
    return largest


def _collect(
    rows: list[Row[T]],
    records: Sequence[T],
    page: int,
    page_size: int,
    start: int,
    keep: Callable[[T], bool] | None,
    row: Callable[[int, T], Row[T]],
    total: int | None,
) -> bool:
    """Append a page's rows; return True when the list ends with this page."""
    base = page * page_size
    for i, rec in enumerate(records):
        pos = base + i
        if pos >= start and (keep is None or keep(rec)):
            rows.append(row(pos, rec))
    return len(records) < page_size or (total is not None and base + len(records) >= total)
