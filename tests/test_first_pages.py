"""Cheap paths that must answer exactly what the general ones do: first pages of lists
held in memory (``memory_connection``), sort values in UTC, and loaders primed lazily."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from clubgraph.connectors.base import (
    InvoiceSortField,
    Row,
    in_utc,
    invoice_sort_parts,
)
from clubgraph.domain import EntityType, Key, Source
from clubgraph.listing import decode_cursor
from clubgraph.loaders import Deferred, Loader
from clubgraph.schema.connection import FirstPage, to_connection
from clubgraph.schema.inputs import PageArgs, memory_connection, page_in_memory


@dataclass(frozen=True)
class Thing:
    key: Key
    rank: int


@dataclass
class Node:
    key: Key
    record: Any


def _order(thing: Thing) -> tuple[Any, Any]:
    return (thing.rank, thing.key.id)


def _things(count: int, seed: int) -> list[Thing]:
    rng = random.Random(seed)
    return [
        Thing(Key(EntityType.INVOICE_ITEM, Source.TIGHT, "1", f"{i:03}"), rng.randint(0, 5))
        for i in range(count)
    ]


def _view(connection: Any) -> dict[str, Any]:
    return {
        "nodes": [(n.key, n.record) for n in connection.nodes()],
        "edges": [(e.node.key, e.node.record, e.cursor()) for e in connection.edges],
        "hasNext": connection.page_info.has_next_page,
        "hasPrevious": connection.page_info.has_previous_page,
        "start": connection.page_info.start_cursor(),
        "end": connection.page_info.end_cursor(),
        "total": connection.total_count,
    }


async def _connection(things: list[Thing], args: PageArgs, *, descending: bool) -> Any:
    return await memory_connection(
        "things|x",
        "memory",
        things,
        order=_order,
        descending=descending,
        args=args,
        wrap=lambda t: Node(t.key, t),
    )


@pytest.mark.parametrize("count", [0, 1, 3, 7, 12])
@pytest.mark.parametrize("first", [0, 1, 5, 50])
@pytest.mark.parametrize("descending", [False, True])
async def test_a_first_page_in_memory_is_the_general_page(
    count: int, first: int, descending: bool
) -> None:
    things = _things(count, seed=count * 100 + first)
    args = PageArgs(first, None, None, None)
    got = await _connection(things, args, descending=descending)
    assert isinstance(got, FirstPage)
    rows = [Row(0, t.key, t.rank, t, t.key.id) for t in things]
    page = await page_in_memory("things|x", "memory", rows, descending=descending, args=args)
    expected = to_connection(page, lambda row: Node(row.key, row.record))
    assert _view(got) == _view(expected)
    # Edges are made once, from the very nodes ``nodes`` gives.
    assert got.edges is got.edges
    assert [e.node for e in got.edges] == got.nodes()


async def test_other_pages_in_memory_go_the_general_way() -> None:
    things = _things(9, seed=3)

    async def page(args: PageArgs) -> Any:
        return await _connection(things, args, descending=False)

    first = await page(PageArgs(4, None, None, None))
    rest = await page(PageArgs(10, first.page_info.end_cursor(), None, None))
    assert not isinstance(rest, FirstPage)
    shown = [n.record for n in first.nodes()] + [n.record for n in rest.nodes()]
    assert shown == sorted(things, key=_order)
    last = await page(PageArgs(None, None, 2, None))
    assert [n.record for n in last.nodes()] == sorted(things, key=_order)[-2:]


def test_date_sort_values_are_the_same_instant_in_utc() -> None:
    local = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    value = invoice_sort_parts(
        InvoiceSortField.ISSUED_AT, issued_at=local, due_at=None, total=None, number=None
    )
    assert value == local
    assert value.tzinfo is UTC
    due = invoice_sort_parts(
        InvoiceSortField.DUE_AT, issued_at=local, due_at=None, total=None, number=None
    )
    assert due == local
    assert due.tzinfo is UTC
    assert in_utc(None) is None
    utc = datetime(2026, 1, 1, tzinfo=UTC)
    assert in_utc(utc) is utc
    # Mixed offsets order by instant, the same as before the conversion.
    moments = [datetime(2026, 5, 1, 10, tzinfo=timezone(timedelta(hours=h))) for h in range(-5, 6)]
    assert sorted(moments) == sorted(moments, key=in_utc)


def test_a_cursor_holds_the_instant_of_its_row() -> None:
    from clubgraph.listing import Cursor, Mark, encode_cursor

    local = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    point = Cursor(False, "s", {"s": Mark(1, in_utc(local), 7)})
    decoded = decode_cursor("k", encode_cursor("k", point))
    assert decoded.marks["s"].sort == local


async def _batch(keys: list[str]) -> list[str]:
    return [f"loaded {k}" for k in keys]


async def test_a_primed_value_is_what_a_load_answers() -> None:
    loader = Loader(_batch)
    loader.prime("a", "primed a").prime("a", "second a")
    assert await loader.load("a") == "primed a"  # the first value primed wins
    assert await loader.load("b") == "loaded b"
    loader.prime("b", "primed b")  # a key already loaded keeps its value
    assert await loader.load("b") == "loaded b"
    loader.prime("c", "primed c")
    loader.clear("c")
    assert await loader.load("c") == "loaded c"
    loader.prime("d", "primed d")
    loader.clear_all()
    assert await loader.load("d") == "loaded d"
    loader.prime("a", "primed a again")
    assert await loader.load_many(["a", "e"]) == ["primed a again", "loaded e"]


async def test_a_deferred_value_is_made_only_when_loaded() -> None:
    made: list[str] = []

    def make(value: str | None) -> Deferred:
        def run() -> str | None:
            made.append(str(value))
            return value

        return Deferred(run)

    loader = Loader(_batch)
    loader.prime("x", make("made x"))
    loader.prime("y", make(None))
    loader.prime("z", make("made z"))
    await asyncio.sleep(0)
    assert made == []
    assert await loader.load("x") == "made x"
    assert await loader.load("y") == "loaded y"  # nothing known after all: read as usual
    assert made == ["made x", "None"]
    assert await loader.load("x") == "made x"
    assert made == ["made x", "None"]


async def test_started_gives_a_load_only_when_one_was_asked_for_or_primed() -> None:
    loader = Loader(_batch)
    assert loader.started("a") is None
    assert loader.started("a") is None  # asking starts nothing
    loader.prime("p", "primed p")
    primed = loader.started("p")
    assert primed is not None
    assert await primed == "primed p"
    asked = loader.load("b")
    assert loader.started("b") is asked
    assert await asked == "loaded b"
    loader.clear("b")
    assert loader.started("b") is None
