"""Relay connections over the sandbox: every list reads to its end in both directions, in
every order; filters select what local filtering of the whole list selects; invoices
created between page reads neither repeat nor shift what was returned; and a page costs
the same upstream requests wherever it is in the list."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from clubgraph import ids
from clubgraph.connectors.timetap import DEV_CREDENTIALS as TIMETAP_DEV
from clubgraph.domain import EntityType, Key, Source
from support import GraphServer

SOURCES = ["FITNESSFORCE", "TIMETAP", "CLUBCOLLECT", "TIGHT"]
FIELDS = "id source number status issuedAt dueAt total { amount } balanceDue { amount }"
# A window of history small enough to read whole many times over.
WINDOW = {"from": "2026-07-01T00:00:00Z", "until": "2026-09-01T00:00:00Z"}


async def read_all(
    graph: GraphServer,
    args: str,
    variables: dict[str, Any],
    *,
    size: int = 100,
    backward: bool = False,
    field: str = "invoices",
    fields: str = FIELDS,
) -> list[dict[str, Any]]:
    """Every node of a list, page by page, forward (first/after) or backward (last/before)."""
    if backward:
        paging, cursor_var, info = "last: $n, before: $c", "startCursor", "hasPreviousPage"
    else:
        paging, cursor_var, info = "first: $n, after: $c", "endCursor", "hasNextPage"
    decl = "".join(f", ${k}: {t}" for k, (t, _) in variables.items())
    query = f"""query($n: Int, $c: String{decl}) {{ {field}({paging}{args}) {{
        pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
        edges {{ cursor node {{ {fields} }} }} }} }}"""
    values = {k: v for k, (_, v) in variables.items()}
    nodes: list[dict[str, Any]] = []
    cursor = None
    for _ in range(200):
        page = (await graph.data(query, {"n": size, "c": cursor, **values}))[field]
        batch = [e["node"] for e in page["edges"]]
        nodes = batch + nodes if backward else nodes + batch
        if not page["pageInfo"][info]:
            return nodes
        cursor = page["pageInfo"][cursor_var]
    raise AssertionError("the list did not end")


def _value(node: dict[str, Any], field: str) -> Any:
    if field == "ISSUED_AT":
        return datetime.fromisoformat(node["issuedAt"])
    if field == "DUE_AT":
        return datetime.fromisoformat(node["dueAt"] or node["issuedAt"])
    if field == "TOTAL":
        return Decimal(node["total"]["amount"])
    return node["number"] or ""


ORDERS = [(f, d) for f in ("ISSUED_AT", "DUE_AT", "TOTAL", "NUMBER") for d in ("DESC", "ASC")]


@pytest.mark.parametrize(("field", "direction"), ORDERS)
async def test_merged_invoices_read_whole_in_both_directions_in_every_order(
    graph: GraphServer, field: str, direction: str
) -> None:
    variables = {
        "o": ("InvoiceOrderInput", {"field": field, "direction": direction}),
        "w": ("DateTimeRange", WINDOW),
    }
    args = ", orderBy: $o, issued: $w"
    forward = await read_all(graph, args, variables, size=100)
    backward = await read_all(graph, args, variables, size=70, backward=True)
    assert forward == backward
    assert len({n["id"] for n in forward}) == len(forward) > 150
    assert {n["source"] for n in forward} == set(SOURCES)
    values = [_value(n, field) for n in forward]
    assert values == sorted(values, reverse=direction == "DESC")


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(("field", "direction"), [("ISSUED_AT", "DESC"), ("TOTAL", "ASC")])
async def test_each_source_reads_whole_in_both_directions(
    graph: GraphServer, source: str, field: str, direction: str
) -> None:
    variables = {
        "s": ("[Source!]", [source]),
        "o": ("InvoiceOrderInput", {"field": field, "direction": direction}),
    }
    args = ", source: $s, orderBy: $o"
    forward = await read_all(graph, args, variables, size=100)
    backward = await read_all(graph, args, variables, size=100, backward=True)
    assert forward == backward
    assert len({n["id"] for n in forward}) == len(forward) >= 500
    values = [_value(n, field) for n in forward]
    assert values == sorted(values, reverse=direction == "DESC")


async def test_clients_and_subscriptions_read_whole_in_both_directions(graph: GraphServer) -> None:
    for field, fields in (("clients", "id name"), ("subscriptions", "id startsAt")):
        forward = await read_all(graph, "", {}, field=field, fields=fields, size=100)
        backward = await read_all(graph, "", {}, field=field, fields=fields, size=90, backward=True)
        assert forward == backward
        assert len({n["id"] for n in forward}) == len(forward) >= 300


async def test_a_page_above_the_maximum_is_an_error_for_last_too(graph: GraphServer) -> None:
    body = await graph.query("{ clients(last: 501) { edges { cursor } } }")
    assert body["errors"][0]["extensions"]["code"] == "PAGE_SIZE_EXCEEDED"
    assert "`last` is 501" in body["errors"][0]["message"]
    mixed = await graph.query("{ clients(first: 2, last: 2) { edges { cursor } } }")
    assert mixed["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# --- filters ---------------------------------------------------------------------------


def _within(value: str | None, start: str, until: str) -> bool:
    if value is None:
        return False
    moment = datetime.fromisoformat(value)
    return (
        datetime.fromisoformat(start.replace("Z", "+00:00"))
        <= moment
        < datetime.fromisoformat(until.replace("Z", "+00:00"))
    )


@pytest.mark.parametrize("source", SOURCES)
async def test_filters_select_what_local_filtering_selects(graph: GraphServer, source: str) -> None:
    everything = await read_all(
        graph,
        ", source: $s",
        {"s": ("[Source!]", [source])},
        size=500,
        fields=FIELDS + " tenantId",
    )
    cases: list[tuple[str, dict[str, Any], Any]] = [
        (
            ", issued: $f",
            {"f": ("DateTimeRange", WINDOW)},
            lambda n: _within(n["issuedAt"], WINDOW["from"], WINDOW["until"]),
        ),
        (
            ", due: $f",
            {"f": ("DateTimeRange", WINDOW)},
            lambda n: _within(n["dueAt"], WINDOW["from"], WINDOW["until"]),
        ),
        (", withBalanceDue: true", {}, lambda n: Decimal(n["balanceDue"]["amount"]) > 0),
        (
            ", status: [OPEN, PARTIALLY_PAID]",
            {},
            lambda n: n["status"] in ("OPEN", "PARTIALLY_PAID"),
        ),
    ]
    tenants = Counter(n["tenantId"] for n in everything)
    tenant = min(tenants)
    cases.append((", tenant: $t", {"t": ("String", tenant)}, lambda n: n["tenantId"] == tenant))
    for args, variables, predicate in cases:
        got = await read_all(
            graph,
            ", source: $s" + args,
            {"s": ("[Source!]", [source]), **variables},
            size=100,
            fields=FIELDS + " tenantId",
        )
        expected = [n for n in everything if predicate(n)]
        assert got == expected, args
        assert expected, f"{source}{args} selects something in the sandbox"


async def test_clients_can_be_searched_by_name_or_email(graph: GraphServer) -> None:
    everyone = await read_all(graph, "", {}, field="clients", fields="id name email", size=500)
    for needle in ("de jong", "EXAMPLE.ORG", "aria"):
        got = await read_all(
            graph,
            ", search: $q",
            {"q": ("String", needle)},
            field="clients",
            fields="id name email",
            size=100,
        )
        expected = [
            c
            for c in everyone
            if needle.casefold() in c["name"].casefold()
            or needle.casefold() in (c["email"] or "").casefold()
        ]
        assert got == expected, needle
        assert expected
    email = next(c["email"] for c in everyone if c["email"])
    exact = await read_all(
        graph,
        ", email: $e",
        {"e": ("String", "  " + email.upper())},
        field="clients",
        fields="id name email",
        size=100,
    )
    assert exact == [c for c in everyone if (c["email"] or "").lower() == email.lower()]


# --- one person across sources -----------------------------------------------------------


async def test_profiles_find_the_same_person_in_other_sources(graph: GraphServer) -> None:
    data = await graph.data(
        """{ clients(first: 100, email: "aria.dejong0@example.net") {
              nodes { id source profiles { id source email } } } }"""
    )
    nodes = data["clients"]["nodes"]
    assert {n["source"] for n in nodes} == set(SOURCES)
    for node in nodes:
        others = {p["id"] for p in node["profiles"]}
        assert others == {n["id"] for n in nodes} - {node["id"]}
        assert all(p["email"].lower() == "aria.dejong0@example.net" for p in node["profiles"])
    found = await graph.data(
        """{ person(email: " Aria.deJong0@Example.NET ") {
              profiles { id } invoices(first: 100) { totalCount nodes { source } } } }"""
    )
    person = found["person"]
    assert {p["id"] for p in person["profiles"]} == {n["id"] for n in nodes}
    assert {i["source"] for i in person["invoices"]["nodes"]} == set(SOURCES)


# --- changes between page reads --------------------------------------------------------------


async def _timetap_token(graph: GraphServer) -> str:
    pair = TIMETAP_DEV.keys[0]
    signature = hashlib.md5((pair.api_key + pair.private_key).encode()).hexdigest()
    async with graph.http.get(
        graph.sandbox.urls["timetap"] + "/sessionToken",
        params={"apiKey": pair.api_key, "timestamp": str(int(time.time())), "signature": signature},
    ) as resp:
        token: str = (await resp.json())["sessionToken"]
    return token


async def test_an_invoice_created_between_page_reads_does_not_repeat_or_shift_items(
    graph: GraphServer,
) -> None:
    query = """query($a: String, $s: [Source!]) {
      invoices(first: 25, after: $a, source: $s) {
        pageInfo { endCursor } nodes { id issuedAt } } }"""
    for sources in (["TIMETAP"], None):
        before = await read_all(
            graph, ", source: $s", {"s": ("[Source!]", sources)}, size=500, fields="id"
        )
        first = (await graph.data(query, {"s": sources}))["invoices"]
        token = await _timetap_token(graph)
        client_id = 710029
        async with graph.http.post(
            graph.sandbox.urls["timetap"] + f"/invoices/client/{client_id}",
            headers={"Authorization": f"Bearer {token}"},
            json=[
                {
                    "description": "Drop-in class",
                    "quantity": 1,
                    "rate": 25,
                    "clientId": client_id,
                    "businessId": 50101,
                    "active": True,
                }
            ],
        ) as resp:
            assert resp.status in (200, 201), await resp.text()
            created = await resp.json()
        second = (await graph.data(query, {"s": sources, "a": first["pageInfo"]["endCursor"]}))[
            "invoices"
        ]
        got = [n["id"] for n in first["nodes"] + second["nodes"]]
        assert got == [n["id"] for n in before[:50]]
        # Whoever starts reading now finds the new invoice among the newest.
        new_id = ids.encode(
            Key(EntityType.INVOICE, Source.TIMETAP, "50101", str(created["invoiceId"]))
        )
        fresh = (await graph.data(query, {"s": sources}))["invoices"]["nodes"]
        assert new_id in [n["id"] for n in fresh[:15]]


async def test_paging_2000_invoices_costs_the_same_per_page(graph: GraphServer) -> None:
    query = """query($a: String) { invoices(first: 100, after: $a) {
        pageInfo { endCursor } nodes { id source } } }"""
    await graph.data(query)  # tokens and reference data are first-call costs
    after = None
    list_requests: list[int] = []
    for _ in range(20):
        await graph.clear_upstream_requests()
        page = (await graph.data(query, {"a": after}))["invoices"]
        requests = Counter(r["source"] for r in await graph.upstream_requests())
        shown = Counter(n["source"] for n in page["nodes"])
        # ClubCollect has no list endpoint: one read per ClubCollect invoice shown.
        assert requests["clubcollect"] == shown["CLUBCOLLECT"]
        list_requests.append(sum(requests.values()) - requests["clubcollect"])
        after = page["pageInfo"]["endCursor"]
    # Every other source: one request per list stream (2 FitnessForce tenants, 6 TimeTap
    # status lists, 1 Tight), whatever the page number; a span that crosses the
    # upstream's largest page costs one more.
    assert all(9 <= n <= 11 for n in list_requests), list_requests


async def test_an_invoice_deleted_upstream_behind_the_index_is_left_out(
    graph: GraphServer,
) -> None:
    from clubgraph.connectors.clubcollect import DEV_CREDENTIALS as CLUBCOLLECT_DEV

    query = """{ invoices(first: 5, source: [CLUBCOLLECT], status: [DRAFT]) {
        nodes { id sourceId status } } }"""
    before = (await graph.data(query))["invoices"]["nodes"]
    assert len(before) == 5
    doomed = before[1]["sourceId"]
    async with graph.http.delete(
        graph.sandbox.urls["clubcollect"] + f"/api/v2/invoices/{doomed}",
        headers={"Authorization": f"ApiKey {CLUBCOLLECT_DEV.api_key}"},
    ) as resp:
        assert resp.status in (200, 204), await resp.text()
    # No notification reached clubgraph: its index still lists the invoice, and the
    # read by id finds it gone. The page leaves it out instead of failing.
    after = (await graph.data(query))["invoices"]["nodes"]
    assert [n["id"] for n in after] == [n["id"] for n in before if n["sourceId"] != doomed]
    # The index has learnt: the next page is whole again.
    again = (await graph.data(query))["invoices"]["nodes"]
    assert len(again) == 5
    assert doomed not in {n["sourceId"] for n in again}
