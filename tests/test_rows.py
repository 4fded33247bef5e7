"""List bodies decoded row by row (connectors/rows.py): the same values as decoding the
body whole, only the rows used decoded whole, and drift still reported as drift."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from clubgraph import workloads
from clubgraph.connectors import rows as rows_module
from clubgraph.connectors.rows import LazyRow, ListBody, RowSpec, full, merging
from clubgraph.http import loads_exact
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


# --- over the sandbox -----------------------------------------------------------------


@pytest.fixture
def decoded_whole(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the rows decoded whole."""
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
