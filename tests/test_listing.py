"""The cross-stream merge: complete, ordered, no duplicate, no gap, resumable."""

from __future__ import annotations

import random

import pytest

from clubgraph.connectors.base import Chunk, Row, Stream
from clubgraph.connectors.paging import paged_stream
from clubgraph.domain import EntityType, Key, Source
from clubgraph.listing import InvalidCursor, merge_page, offset_page


def _key(n: int) -> Key:
    return Key(EntityType.INVOICE, Source.TIMETAP, "1", str(n))


def _streams(seed: int, count: int, sizes: list[int]) -> tuple[list[Stream[int]], list[int]]:
    rnd = random.Random(seed)
    streams: list[Stream[int]] = []
    everything: list[tuple[int, int]] = []
    for s, size in enumerate(sizes):
        values = sorted((rnd.randrange(count) for _ in range(size)), reverse=True)
        everything += [(v, s) for v in values]
        ids = [s * 10_000 + i for i in range(size)]

        async def page(p: int, n: int, values=values, ids=ids) -> tuple[list[int], int]:
            return [ids[i] for i in range(p * n, min((p + 1) * n, len(ids)))], len(ids)

        lookup = dict(zip(ids, values, strict=True))
        streams.append(
            paged_stream(f"s{s}", page_size=7, fetch_page=page, key=_key, sort=lookup.__getitem__)
        )
    return streams, [v for v, _ in sorted(everything, key=lambda t: (-t[0], t[1]))]


@pytest.mark.parametrize("first", [1, 5, 13, 100])
async def test_paging_to_the_end_yields_everything_once_in_order(first: int) -> None:
    streams, expected = _streams(3, 50, [40, 0, 17, 33])
    seen: list[int] = []
    ids: list[str] = []
    after = None
    while True:
        page = await merge_page("t", streams, first, after, descending=True)
        seen += [e.row.sort for e in page.edges]
        ids += [e.row.key.id for e in page.edges]
        assert page.total_count == 90
        if not page.has_next_page:
            break
        after = page.edges[-1].cursor
    assert seen == expected
    assert len(set(ids)) == len(ids) == 90


async def test_a_cursor_from_another_list_is_refused() -> None:
    streams, _ = _streams(1, 10, [5, 5])
    page = await merge_page("list-a", streams, 3, None, descending=True)
    with pytest.raises(InvalidCursor):
        await merge_page("list-b", streams, 3, page.edges[-1].cursor, descending=True)
    with pytest.raises(InvalidCursor):
        await merge_page("list-a", streams, 3, "garbage", descending=True)


async def test_an_empty_stream_set_gives_an_empty_page() -> None:
    page = await merge_page("t", [], 10, None, descending=True)
    assert (list(page.edges), page.has_next_page, page.total_count) == ([], False, 0)


async def test_unknown_totals_give_no_total() -> None:
    async def fetch(start: int, count: int) -> Chunk[int]:
        return Chunk([Row(0, _key(0), 1, 1)][start:], True, None)

    page = await merge_page("t", [Stream("x", fetch)], 5, None, descending=True)
    assert page.total_count is None
    assert [e.row.sort for e in page.edges] == [1]


def test_offset_pages_cover_the_list() -> None:
    rows = [Row(i, _key(i), None, i) for i in range(7)]
    first = offset_page("k", rows, 3, None)
    second = offset_page("k", rows, 3, first.edges[-1].cursor)
    third = offset_page("k", rows, 3, second.edges[-1].cursor)
    got = [e.row.record for p in (first, second, third) for e in p.edges]
    assert got == list(range(7))
    assert (first.has_next_page, third.has_next_page, third.has_previous_page) == (
        True,
        False,
        True,
    )
