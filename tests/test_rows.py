"""List bodies decoded row by row (connectors/rows.py): the same values as decoding the
body whole, only the rows used decoded whole, and drift still reported as drift."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from clubgraph import ids, workloads
from clubgraph.connectors import rows as rows_module
from clubgraph.connectors.fitnessforce import connector as fitnessforce_connector
from clubgraph.connectors.rows import (
    MEMO,
    LazyRow,
    ListBody,
    Mapper,
    RowMemo,
    RowSpec,
    full,
    map_row,
    merging,
    read_row,
)
from clubgraph.http import loads_exact
from clubgraph.sandbox.fitnessforce.responses import STATE as FITNESSFORCE_STATE
from support import GraphServer

SPEC = RowSpec("id", "date", "amount")
BODY = (
    b'[{"id": 7, "date": "2026-11-02", "amount": 12.10, "lines": [{"price": 1e2}],'
    b' "note": "caf\\u00e9"}, {"id": 8, "amount": null, "extra": {"a": [1, 2.50]}}]'
)


def test_a_lazy_row_reads_what_the_decoded_row_holds() -> None:
    decoded = loads_exact(BODY)
    lazy = ListBody(SPEC)(BODY)
    assert [type(r) for r in lazy] == [LazyRow, LazyRow]
    first, second = lazy
    # Fields of the head, exact: a fraction stays the Decimal of the text sent.
    assert first["amount"] == Decimal("12.10")
    assert str(first["amount"]) == "12.10"
    assert (first["id"], first["date"]) == (7, "2026-11-02")
    assert second.get("date") is None
    assert second.get("date", "none") == "none"
    assert "date" not in second
    assert "amount" in second
    with pytest.raises(KeyError):
        second["date"]  # absent, as in the decoded row
    # Any other field decodes the whole row, once, equal to the body decoded whole.
    assert first["note"] == "café"
    assert first.json() is first.json()
    assert [full(r) for r in lazy] == decoded
    assert str(second["extra"]["a"][1]) == "2.50"
    assert full(decoded[0]) is decoded[0]  # a decoded row passes through


def test_a_row_that_is_no_object_is_drift_and_leaves_the_others_readable() -> None:
    first, second = ListBody(SPEC)(b'[1, {"id": 2}]')
    with pytest.raises(TypeError):
        first["id"]
    with pytest.raises(TypeError):
        first["note"]
    assert second["id"] == 2


def test_a_body_with_members_keeps_them_exact_and_its_rows_lazy() -> None:
    body = b'{"total_records": 2, "rate": 0.10, "data": [{"id": 1}, {"id": 2, "x": 1.5}]}'
    decoded = ListBody(SPEC, "data")(body)
    assert decoded["total_records"] == 2
    assert str(decoded["rate"]) == "0.10"
    assert [r["id"] for r in decoded["data"]] == [1, 2]
    assert [full(r) for r in decoded["data"]] == loads_exact(body)["data"]
    # What is not the expected shape is left decoded as sent, for the caller to refuse.
    assert ListBody(SPEC, "data")(b"[1]") == [1]
    assert ListBody(SPEC, "data")(b'{"data": null}') == {"data": None}
    assert ListBody(SPEC)(b'{"id": 1}') == {"id": 1}


def test_invalid_json_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="JSON is malformed"):
        ListBody(SPEC)(b'[{"id": 1}, {"id": ]')
    with pytest.raises(ValueError, match="truncated"):
        ListBody(SPEC, "data")(b'{"data": [{"id": 1}')


def test_a_list_read_alone_is_decoded_whole() -> None:
    assert type(ListBody(SPEC)(BODY)[0]) is LazyRow
    with merging(1):
        assert type(ListBody(SPEC)(BODY)[0]) is dict
        with merging(3):
            assert type(ListBody(SPEC)(BODY)[0]) is LazyRow
        assert type(ListBody(SPEC)(BODY)[0]) is dict
    assert type(ListBody(SPEC)(BODY)[0]) is LazyRow


# --- rows read again -------------------------------------------------------------------


def test_a_row_read_again_is_the_row_read_before() -> None:
    memo = RowMemo()
    body = ListBody(SPEC, memo=memo)
    first = body(BODY)
    first[0].json()
    again = body(BODY)
    assert [a is b for a, b in zip(first, again, strict=True)] == [True, True]
    assert again[0]._json is not rows_module._ABSENT  # decoded once, not again
    # A row whose text differs (one character) is another row.
    changed = body(BODY.replace(b'"amount": 12.10', b'"amount": 12.11'))
    assert changed[0] is not first[0]
    assert changed[1] is first[1]
    assert changed[0]["amount"] == Decimal("12.11")
    assert len(memo) == 3
    # The row keeps its own text, not the body it was cut from.
    assert type(first[0]._raw) is bytes
    assert full(first[0]) == loads_exact(BODY)[0]


def test_a_body_read_again_is_not_split_again_and_its_lists_are_the_callers() -> None:
    memo = RowMemo()
    body = b'{"total_records": 2, "data": [{"id": 1}, {"id": 2, "x": 1.5}]}'
    reader = ListBody(SPEC, "data", memo)
    first = reader(body)
    first["data"].append("mine")  # the caller's list: a read later does not see it
    first["total_records"] = 99
    again = reader(body)
    assert again["total_records"] == 2
    assert len(again["data"]) == 2
    assert again["data"] is not first["data"]
    assert [a is b for a, b in zip(first["data"], again["data"], strict=False)] == [True, True]
    assert [full(r) for r in again["data"]] == loads_exact(body)["data"]
    # Another body with a row of the same text shares that row.
    other = reader(b'{"total_records": 1, "data": [{"id": 2, "x": 1.5}]}')
    assert other["data"][0] is first["data"][1]
    rows = ListBody(SPEC, memo=memo)
    listed = rows(BODY)
    listed.clear()
    assert len(rows(BODY)) == 2


def test_two_bodies_with_the_same_digest_are_told_apart_by_their_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rows_module.zlib, "crc32", lambda text: 7)
    memo = RowMemo()
    reader = ListBody(SPEC, memo=memo)
    one, two = b'[{"id": 1}]', b'[{"id": 2}]'
    assert [r["id"] for r in reader(one)] == [1]
    assert [r["id"] for r in reader(two)] == [2]  # same length and digest, not the same
    assert [r["id"] for r in reader(one)] == [1]
    assert [r["id"] for r in reader(two)] == [2]


def test_a_list_read_alone_is_split_into_rows_when_they_are_kept() -> None:
    with merging(1):
        assert type(ListBody(SPEC, memo=RowMemo())(BODY)[0]) is LazyRow
        # A memo that holds nothing (CLUBGRAPH_ROW_MEMO_MB=0) is no memo.
        assert type(ListBody(SPEC, memo=RowMemo(0))(BODY)[0]) is dict
    with merging(3):
        assert type(ListBody(SPEC, memo=RowMemo(0))(BODY)[0]) is LazyRow
        # A list that is never merged is decoded whole when its rows are not kept.
        assert type(ListBody(SPEC, memo=RowMemo(0), merged=False)(BODY)[0]) is dict
        assert type(ListBody(SPEC, memo=RowMemo(), merged=False)(BODY)[0]) is LazyRow


def test_the_memo_holds_at_most_its_budget_the_oldest_rows_going_first() -> None:
    rows = [b'{"id": %d, "pad": "%s"}' % (i, b"x" * 80) for i in range(10)]
    size = len(rows[0])
    memo = RowMemo(budget=3 * size)
    body = ListBody(SPEC, memo=memo)
    made = [body(b"[" + row + b"]")[0] for row in rows]
    assert len(memo) == 3
    assert memo.size == 3 * size
    assert body(b"[" + rows[9] + b"]")[0] is made[9]  # among the last three
    assert body(b"[" + rows[0] + b"]")[0] is not made[0]  # forgotten: made again
    memo.resize(size)
    assert len(memo) == 1
    memo.resize(0)
    assert len(memo) == 0
    assert memo.size == 0
    # With no room, rows are still split and read, and nothing is kept.
    assert body(b"[" + rows[1] + b"]")[0]["id"] == 1
    assert len(memo) == 0


def _mapping(calls: list[Any]) -> Any:
    def map_one(row: Any, tenant: str) -> tuple[str, Any]:
        calls.append(row["id"])
        if row.get("amount") is None:
            raise ValueError("no amount")
        return (tenant, row["amount"])

    return map_one


def test_a_row_is_mapped_once_per_mapper_and_a_failure_is_not_kept() -> None:
    calls: list[Any] = []
    map_one = _mapping(calls)
    first, second = ListBody(SPEC, memo=RowMemo())(BODY)
    assert Mapper(map_one, "t1") == Mapper(map_one, "t1")
    assert hash(Mapper(map_one, "t1")) == hash(Mapper(map_one, "t1"))
    assert Mapper(map_one, "t1") != Mapper(map_one, "t2")
    record = map_row(Mapper(map_one, "t1"), first)
    assert record == ("t1", Decimal("12.10"))
    assert map_row(Mapper(map_one, "t1"), first) is record
    assert map_row(Mapper(map_one, "t2"), first) == ("t2", Decimal("12.10"))
    assert calls == [7, 7]
    # A plain function (not a Mapper) maps every time; a decoded row too.
    assert map_row(lambda row: row["id"], first) == 7
    assert map_row(Mapper(map_one, "t1"), loads_exact(BODY)[0]) == record
    assert calls == [7, 7, 7]
    # A row that does not map fails each time it is mapped, as drift does.
    for _ in range(2):
        with pytest.raises(ValueError, match="no amount"):
            map_row(Mapper(map_one, "t1"), second)
    assert calls == [7, 7, 7, 8, 8]


def test_what_a_mapper_reads_from_a_rows_head_is_read_once() -> None:
    reads: list[Any] = []

    def key(row: Any, prefix: str) -> str:
        reads.append(row["id"])
        return f"{prefix}{row['id']}"

    first, second = ListBody(SPEC, memo=RowMemo())(BODY)
    assert read_row(Mapper(key, "k"), first) == "k7"
    assert read_row(Mapper(key, "k"), first) == "k7"
    assert read_row(Mapper(key, "k"), second) == "k8"
    assert first._json is rows_module._ABSENT  # the head alone was decoded
    assert read_row(lambda row: row["id"], first) == 7
    assert reads == [7, 8]
    with pytest.raises(KeyError):
        read_row(Mapper(lambda row: row["date"]), second)


# --- over the sandbox -----------------------------------------------------------------


@pytest.fixture
def decoded_whole(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the rows decoded whole (from a memo emptied first)."""
    MEMO.clear()
    counted: list[int] = []
    json = LazyRow.json

    def counting(self: LazyRow) -> Any:
        if self._json is rows_module._ABSENT:
            counted.append(1)
        return json(self)

    monkeypatch.setattr(LazyRow, "json", counting)
    return counted


async def test_a_merged_page_decodes_whole_only_the_rows_it_shows(
    graph: GraphServer, decoded_whole: list[int]
) -> None:
    query = "{ invoices(first: 20) { nodes { id source number total { amount } } } }"
    nodes = (await graph.data(query))["invoices"]["nodes"]
    assert len(nodes) == 20
    # TimeTap, FitnessForce and Tight lists each read 20 rows (about 160 over the
    # tenants and statuses); the page decodes only the rows it shows (ClubCollect's
    # come whole from its index).
    shown = [n for n in nodes if n["source"] != "CLUBCOLLECT"]
    assert shown
    assert len(decoded_whole) == len(shown)


async def test_the_dashboard_is_the_same_decoded_lazily_or_whole(
    graph: GraphServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = workloads.load("W1")
    lazy = await graph.data(query, {"first": 50})
    monkeypatch.setattr(rows_module.ListBody, "__call__", lambda self, body: loads_exact(body))
    whole = await graph.data(query, {"first": 50})
    assert lazy == whole
    assert len(lazy["invoices"]["edges"]) == 50


FITNESSFORCE_PAGE = """{ invoices(first: 10, source: [FITNESSFORCE]) {
  nodes { id number status total { amount } balanceDue { amount } }
} }"""


async def test_rows_read_again_are_neither_decoded_nor_mapped_again(
    graph: GraphServer, decoded_whole: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    mapped: list[Any] = []
    map_invoice = fitnessforce_connector.map_invoice

    def counting(raw: Any, tenant: str) -> Any:
        mapped.append(raw["invoice_id"])
        return map_invoice(raw, tenant)

    monkeypatch.setattr(fitnessforce_connector, "map_invoice", counting)
    first = await graph.data(FITNESSFORCE_PAGE)
    assert len(mapped) == len(decoded_whole) == 10
    assert await graph.data(FITNESSFORCE_PAGE) == first
    assert len(mapped) == len(decoded_whole) == 10


async def test_a_row_changed_upstream_is_read_afresh(graph: GraphServer) -> None:
    before = (await graph.data(FITNESSFORCE_PAGE))["invoices"]["nodes"]
    changed = before[2]
    state = graph.sandbox.apps["fitnessforce"][FITNESSFORCE_STATE]
    stored = state.invoices[int(ids.decode(changed["id"]).id.split("/")[1])]
    saved = dict(stored)
    stored.update(net_amount=1234.5, balance_amount=1000.25)
    try:
        after = (await graph.data(FITNESSFORCE_PAGE))["invoices"]["nodes"]
    finally:
        stored.clear()
        stored.update(saved)
    expected = [dict(node) for node in before]
    expected[2].update(total={"amount": "1234.50"}, balanceDue={"amount": "1000.25"})
    assert after == expected
    assert (await graph.data(FITNESSFORCE_PAGE))["invoices"]["nodes"] == before
