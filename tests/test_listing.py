"""The cross-stream merge: complete, ordered, no duplicate, no gap, in both directions,
and resilient to rows created or removed upstream between page reads."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

from clubgraph.connectors.base import Row, Stream
from clubgraph.connectors.paging import paged_stream
from clubgraph.domain import EntityType, Key, Source
from clubgraph.listing import (
    InvalidCursor,
    InvalidPaging,
    OpenStreams,
    Page,
    memory_streams,
    paginate,
)

Item = tuple[int, int]  # (sort value, id): an upstream record


class Upstream:
    """A mutable upstream list per stream, served in pages like a REST API."""

    def __init__(self, lists: dict[str, list[Item]], page_size: int = 5) -> None:
        self.lists = lists
        self.page_size = page_size
        self.requests = 0

    def open(self, descending: bool) -> OpenStreams:
        async def open_streams(reverse: bool) -> Sequence[Stream[Item]]:
            desc = descending != reverse
            return [self._stream(sid, desc) for sid in sorted(self.lists)]

        return open_streams

    def _stream(self, sid: str, desc: bool) -> Stream[Item]:
        async def fetch_page(page: int, size: int) -> tuple[list[Item], int]:
            self.requests += 1
            ordered = sorted(self.lists[sid], reverse=desc)
            return ordered[page * size : (page + 1) * size], len(ordered)

        return paged_stream(
            sid,
            page_size=self.page_size,
            fetch_page=fetch_page,
            key=lambda it: Key(EntityType.INVOICE, Source.TIMETAP, sid, str(it[1])),
            sort=lambda it: it[0],
            tiebreak=lambda it: it[1],
            descending=desc,
        )

    def expected(self, descending: bool) -> list[str]:
        rows = [(v, sid, i) for sid, items in self.lists.items() for v, i in items]
        return [f"{sid}:{i}" for _, sid, i in sorted(rows, reverse=descending)]


def _ids(page: Page[Any]) -> list[str]:
    return [f"{e.row.key.tenant}:{e.row.key.id}" for e in page.edges]


def _upstream(seed: int, sizes: dict[str, int], spread: int = 20) -> Upstream:
    rnd = random.Random(seed)
    ids = iter(range(1, 10_000))
    return Upstream(
        {sid: [(rnd.randrange(spread), next(ids)) for _ in range(n)] for sid, n in sizes.items()}
    )


async def _read_forward(up: Upstream, descending: bool, size: int) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        page = await paginate(
            "k", up.open(descending), first=size, after=after, last=None, before=None
        )
        seen += _ids(page)
        if not page.has_next_page:
            return seen
        assert page.edges
        after = page.edges[-1].cursor


async def _read_backward(up: Upstream, descending: bool, size: int) -> list[str]:
    seen: list[str] = []
    before = None
    while True:
        page = await paginate(
            "k", up.open(descending), first=None, after=None, last=size, before=before
        )
        seen = _ids(page) + seen
        if not page.has_previous_page:
            return seen
        before = page.edges[0].cursor


SIZES = {"a": 23, "b": 0, "c": 17, "d": 31}


@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("size", [1, 4, 13, 100])
async def test_paging_forward_to_the_end_gives_the_whole_ordered_list(
    descending: bool, size: int
) -> None:
    up = _upstream(3, SIZES)
    assert await _read_forward(up, descending, size) == up.expected(descending)


@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("size", [1, 4, 13, 100])
async def test_paging_backward_from_the_end_gives_the_same_list(
    descending: bool, size: int
) -> None:
    up = _upstream(5, SIZES)
    assert await _read_backward(up, descending, size) == up.expected(descending)


async def test_turning_around_mid_list_returns_the_items_just_passed() -> None:
    up = _upstream(7, SIZES)
    expected = up.expected(True)
    first = await paginate("k", up.open(True), first=30, after=None, last=None, before=None)
    second = await paginate(
        "k", up.open(True), first=10, after=first.edges[-1].cursor, last=None, before=None
    )
    assert _ids(second) == expected[30:40]
    back = await paginate(
        "k", up.open(True), first=None, after=None, last=7, before=second.edges[0].cursor
    )
    assert _ids(back) == expected[23:30]
    assert (back.has_next_page, back.has_previous_page) == (True, True)
    # Cursors from a backward read work forward too, and the other way round.
    again = await paginate(
        "k", up.open(True), first=5, after=back.edges[-1].cursor, last=None, before=None
    )
    assert _ids(again) == expected[30:35]
    tail = await paginate("k", up.open(True), first=None, after=None, last=6, before=None)
    assert _ids(tail) == expected[-6:]
    onward = await paginate(
        "k", up.open(True), first=3, after=tail.edges[0].cursor, last=None, before=None
    )
    assert _ids(onward) == expected[-5:-2]
    earlier = await paginate(
        "k", up.open(True), first=None, after=None, last=4, before=tail.edges[0].cursor
    )
    assert _ids(earlier) == expected[-10:-6]


@pytest.mark.parametrize("descending", [True, False])
async def test_rows_created_or_removed_between_reads_neither_repeat_nor_go_missing(
    descending: bool,
) -> None:
    up = _upstream(11, SIZES)
    before_change = up.expected(descending)
    page = await paginate("k", up.open(descending), first=20, after=None, last=None, before=None)
    returned = _ids(page)
    assert returned == before_change[:20]
    # Upstream changes: new rows at the very front of every stream and between
    # already-returned rows, and removals among the returned rows.
    top = max if descending else min
    front = top(v for items in up.lists.values() for v, _ in items)
    up.lists["a"] += [(front, 9001), (front, 9002)]
    up.lists["c"].append((front, 9003))
    for sid in ("a", "d"):
        returned_here = [i for i in returned if i.startswith(sid + ":")]
        if returned_here:
            gone = int(returned_here[0].split(":")[1])
            up.lists[sid] = [it for it in up.lists[sid] if it[1] != gone]
    rest = await _read_forward_from(up, descending, page.edges[-1].cursor, 7)
    # Exactly the rows that were after the cursor, none of the returned ones again.
    assert rest == before_change[20:]


async def _read_forward_from(up: Upstream, descending: bool, after: str, size: int) -> list[str]:
    seen: list[str] = []
    while True:
        page = await paginate(
            "k", up.open(descending), first=size, after=after, last=None, before=None
        )
        seen += _ids(page)
        if not page.has_next_page:
            return seen
        after = page.edges[-1].cursor


async def test_a_page_reads_each_stream_once() -> None:
    up = _upstream(13, {"a": 300, "b": 300, "c": 300}, spread=1000)
    up.page_size = 100
    page = await paginate("k", up.open(True), first=50, after=None, last=None, before=None)
    up.requests = 0
    await paginate(
        "k", up.open(True), first=50, after=page.edges[-1].cursor, last=None, before=None
    )
    assert up.requests == 3


async def test_totals_and_page_info() -> None:
    up = _upstream(17, SIZES)
    page = await paginate("k", up.open(True), first=10, after=None, last=None, before=None)
    assert page.total_count == 71
    assert (page.has_next_page, page.has_previous_page) == (True, False)
    everything = await paginate("k", up.open(True), first=500, after=None, last=None, before=None)
    assert (everything.has_next_page, len(everything.edges)) == (False, 71)
    empty = await paginate("k", up.open(True), first=0, after=None, last=None, before=None)
    assert (list(empty.edges), empty.has_next_page) == ([], True)


async def test_bad_cursors_and_argument_mixes_are_refused() -> None:
    up = _upstream(1, {"a": 5, "c": 5})
    page = await paginate("list-a", up.open(True), first=3, after=None, last=None, before=None)
    cursor = page.edges[-1].cursor
    with pytest.raises(InvalidCursor):
        await paginate("list-b", up.open(True), first=3, after=cursor, last=None, before=None)
    with pytest.raises(InvalidCursor):
        await paginate("list-a", up.open(True), first=3, after="garbage", last=None, before=None)
    other = Upstream({"zz": [(1, 1)]})
    with pytest.raises(InvalidCursor):
        await paginate("list-a", other.open(True), first=3, after=cursor, last=None, before=None)
    with pytest.raises(InvalidPaging):
        await paginate("list-a", up.open(True), first=3, after=None, last=3, before=None)
    with pytest.raises(InvalidPaging):
        await paginate("list-a", up.open(True), first=3, after=None, last=None, before=cursor)
    with pytest.raises(InvalidPaging):
        await paginate("list-a", up.open(True), first=None, after=cursor, last=3, before=None)


async def test_lists_in_memory_page_the_same_way() -> None:
    rows = [
        Row(0, Key(EntityType.INVOICE, Source.TIGHT, "t", str(i)), i % 4, None, i)
        for i in range(1, 12)
    ]
    streams = memory_streams("m", rows, descending=True)
    forward: list[str] = []
    after = None
    while True:
        page = await paginate("m", streams, first=3, after=after, last=None, before=None)
        forward += [e.row.key.id for e in page.edges]
        if not page.has_next_page:
            break
        after = page.edges[-1].cursor
    expected = [str(i) for _, i in sorted(((i % 4, i) for i in range(1, 12)), reverse=True)]
    assert forward == expected
    tail = await paginate("m", streams, first=None, after=None, last=4, before=None)
    assert [e.row.key.id for e in tail.edges] == expected[-4:]
    assert tail.total_count == 11


async def test_a_first_page_in_memory_is_the_page_paginate_gives() -> None:
    # The first page of records held in memory is cut directly (``FirstPage``), without
    # the merge: it must be the page ``paginate`` gives, cursors included.
    from clubgraph.schema.inputs import PageArgs, memory_connection

    rows = [
        Row(0, Key(EntityType.INVOICE, Source.TIGHT, "t", str(i)), i % 4, None, i)
        for i in range(1, 12)
    ]

    async def cut(descending: bool, args: PageArgs) -> Any:
        return await memory_connection(
            "k",
            "m",
            rows,
            order=lambda r: (r.sort, r.tiebreak),
            descending=descending,
            args=args,
            wrap=lambda r: r,
        )

    for descending in (True, False):
        for first in (0, 1, 3, 11, 20):
            streams = memory_streams("m", rows, descending=descending)
            want = await paginate("k", streams, first=first, after=None, last=None, before=None)
            got = await cut(descending, PageArgs(first, None, None, None))
            assert [e.cursor() for e in got.edges] == [e.cursor for e in want.edges]
            assert [e.node.key for e in got.edges] == [e.row.key for e in want.edges]
            info = got.page_info
            assert (info.has_next_page, info.has_previous_page, got.total_count) == (
                want.has_next_page,
                want.has_previous_page,
                want.total_count,
            )
            # the next page, through a cursor, continues where the direct cut stopped
            if got.edges and info.has_next_page:
                after = got.edges[-1].cursor()
                rest = await cut(descending, PageArgs(50, after, None, None))
                seen = [e.node.key for e in got.edges] + [e.node.key for e in rest.edges]
                assert len(seen) == len(set(seen)) == len(rows)


async def test_a_crafted_cursor_that_inflates_hugely_is_refused() -> None:
    import base64
    import zlib

    bomb = base64.urlsafe_b64encode(zlib.compress(b"[" * 10_000_000, 9)).decode()
    up = _upstream(1, {"a": 5})
    with pytest.raises(InvalidCursor):
        await paginate("k", up.open(True), first=3, after=bomb, last=None, before=None)


def test_a_cursor_made_again_is_the_one_made_before_and_few_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    from clubgraph import listing

    monkeypatch.setattr(listing, "_packed", {})
    monkeypatch.setattr(listing, "_CURSORS_KEPT", 3)
    at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    points = [
        listing.Cursor(False, "a", {"a": listing.Mark(i, (at, Decimal("1.50")), i)})
        for i in range(5)
    ]
    made = [listing.encode_cursor("k", p) for p in points]
    assert len(set(made)) == 5
    assert len(listing._packed) == 3  # the most recent three
    for point, cursor in zip(points, made, strict=True):
        # Made again (packed afresh or found), the same text, and it reads back.
        assert listing.encode_cursor("k", point) == cursor
        assert listing.decode_cursor("k", cursor) == point
    # Another list's cursor for the same point is another cursor.
    assert listing.encode_cursor("other", points[0]) != made[0]
    with pytest.raises(InvalidCursor):
        listing.decode_cursor("other", made[0])
