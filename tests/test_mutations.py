"""Mutations over the four sandbox sources, through real HTTP: W4 on every source that
creates invoices, errors as data, idempotent retries (concurrent and across a restart),
compensation when an upstream call fails midway, and read-after-write."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from clubgraph import workloads
from clubgraph.app import create_app
from clubgraph.domain import Source
from clubgraph.sandbox.runner import RunningSandbox
from clubgraph.settings import Settings, SourceSettings
from support import GraphServer, serve

W4 = workloads.load("W4")
LINES = [
    {"description": "Monthly membership", "quantity": "1", "unitPrice": "49.95"},
    {"description": "Personal training", "quantity": "2", "unitPrice": "35.10"},
    {"description": "Towel service", "quantity": "3", "unitPrice": "0.10"},
]
TOTAL = Decimal("49.95") + 2 * Decimal("35.10") + 3 * Decimal("0.10")


def key() -> str:
    return uuid.uuid4().hex


async def _client_id(graph: GraphServer, source: str) -> str:
    data = await graph.data(
        "query($s: [Source!]) { clients(first: 1, source: $s) { nodes { id } } }", {"s": [source]}
    )
    client_id: str = data["clients"]["nodes"][0]["id"]
    return client_id


async def _create_input(graph: GraphServer, source: str) -> dict[str, Any]:
    base: dict[str, Any] = {"idempotencyKey": key(), "lines": LINES}
    if source == "CLUBCOLLECT":
        return {
            **base,
            "source": "CLUBCOLLECT",
            "tenantId": "cmp_amsterdam_hc",
            "number": f"CG-{uuid.uuid4().hex[:8]}",
            "total": str(TOTAL),
            "recipient": {
                "firstName": "Ada",
                "lastName": "Lovelace",
                "email": "ada.lovelace@example.org",
            },
        }
    extra = {"acceptCard": True} if source == "TIGHT" else {}
    return {**base, "clientId": await _client_id(graph, source), **extra}


async def _requests(graph: GraphServer, source: str) -> list[dict[str, Any]]:
    return [r for r in await graph.upstream_requests() if r["source"] == source.lower()]


async def test_sources_say_what_each_can_do(graph: GraphServer) -> None:
    data = await graph.data("{ sources { source name configured capabilities tenantIds } }")
    by_source = {s["source"]: s for s in data["sources"]}
    assert set(by_source) == {"FITNESSFORCE", "TIMETAP", "CLUBCOLLECT", "TIGHT"}
    assert all(s["configured"] and s["tenantIds"] for s in data["sources"])
    caps = {name: set(s["capabilities"]) for name, s in by_source.items()}
    assert "CREATE_INVOICE" not in caps["FITNESSFORCE"]
    assert {"SEND_INVOICE_BALANCE_LINK", "FREEZE_SUBSCRIPTION", "VOID_SUBSCRIPTION"} <= caps[
        "FITNESSFORCE"
    ]
    assert {"CREATE_INVOICE", "ADD_INVOICE_ITEMS", "REMOVE_INVOICE_ITEM"} <= caps["TIMETAP"]
    assert {"CREATE_INVOICE", "VOID_INVOICE", "DELETE_INVOICE"} <= caps["CLUBCOLLECT"]
    assert "ADD_INVOICE_ITEMS" not in caps["CLUBCOLLECT"]
    assert {"CREATE_INVOICE", "SEND_INVOICE"} <= caps["TIGHT"]


@pytest.mark.parametrize("source", ["TIMETAP", "CLUBCOLLECT", "TIGHT"])
async def test_w4_creates_an_invoice_with_three_lines_and_reads_it_back(
    graph: GraphServer, source: str
) -> None:
    created = await graph.data(W4, {"input": await _create_input(graph, source)}, "W4CreateInvoice")
    payload = created["createInvoice"]
    assert payload["userErrors"] == []
    invoice = payload["invoice"]
    assert invoice["source"] == source
    assert Decimal(invoice["total"]["amount"]) >= TOTAL - Decimal("0.01")
    lines = invoice["items"]["nodes"]
    # ClubCollect lines carry an amount only (2 x 35.10 is one line of 70.20): compare
    # what every source keeps, the description and the line's total.
    assert [(line["description"], Decimal(line["total"]["amount"])) for line in lines] == [
        (line["description"], Decimal(line["quantity"]) * Decimal(line["unitPrice"]))
        for line in LINES
    ]
    again = await graph.data(W4, {"id": invoice["id"]}, "W4ReadBack")
    assert again["node"] == invoice
    # Lists show it too: the newest of its source.
    listing = await graph.data(
        "query($s: [Source!]) { invoices(first: 40, source: $s) { nodes { id } } }",
        {"s": [source]},
    )
    assert invoice["id"] in [n["id"] for n in listing["invoices"]["nodes"]]


async def test_a_retry_with_the_same_key_returns_the_first_result_and_writes_once(
    graph: GraphServer,
) -> None:
    input_ = await _create_input(graph, "TIMETAP")
    await graph.clear_upstream_requests()
    first, second = [
        (await graph.data(W4, {"input": input_}, "W4CreateInvoice"))["createInvoice"]
        for _ in range(2)
    ]
    assert first["invoice"]["id"] == second["invoice"]["id"]
    assert first == second
    writes = [r for r in await _requests(graph, "TIMETAP") if r["method"] == "POST"]
    assert len(writes) == 1


async def test_concurrent_requests_with_one_key_write_once(graph: GraphServer) -> None:
    input_ = await _create_input(graph, "TIGHT")
    await graph.clear_upstream_requests()
    results = await asyncio.gather(
        *(graph.data(W4, {"input": input_}, "W4CreateInvoice") for _ in range(6))
    )
    ids = {r["createInvoice"]["invoice"]["id"] for r in results}
    assert len(ids) == 1
    posts = Counter(r["path"] for r in await _requests(graph, "TIGHT") if r["method"] == "POST")
    assert posts["/v5/invoicing/invoice"] == 1


async def test_a_key_reused_for_another_request_is_refused(graph: GraphServer) -> None:
    input_ = await _create_input(graph, "TIMETAP")
    await graph.data(W4, {"input": input_}, "W4CreateInvoice")
    changed = {**input_, "note": "something else"}
    payload = (await graph.data(W4, {"input": changed}, "W4CreateInvoice"))["createInvoice"]
    assert payload["invoice"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["idempotencyKey"], "IDEMPOTENCY_CONFLICT")
    ]


async def test_documented_rules_are_checked_before_any_upstream_call(graph: GraphServer) -> None:
    no_contact = await _create_input(graph, "CLUBCOLLECT")
    no_contact["recipient"] = {"lastName": "Lovelace"}
    mismatch = await _create_input(graph, "CLUBCOLLECT")
    mismatch["total"] = "1.00"
    both_discounts = await _create_input(graph, "TIGHT")
    both_discounts.update(discountAmount="5", discountPercent="10")
    long_json = await _create_input(graph, "TIGHT")
    long_json["customJson"] = "x" * 2001
    await graph.clear_upstream_requests()
    codes = []
    for input_ in (no_contact, mismatch, both_discounts, long_json):
        payload = (await graph.data(W4, {"input": input_}, "W4CreateInvoice"))["createInvoice"]
        assert payload["invoice"] is None
        codes.append({e["code"] for e in payload["userErrors"]})
    assert codes == [
        {"CONTACT_REQUIRED"},
        {"AMOUNT_MISMATCH"},
        {"CONFLICTING_DISCOUNTS"},
        {"TOO_LONG"},
    ]
    assert [r for r in await graph.upstream_requests() if r["method"] != "GET"] == []


async def test_an_operation_a_source_cannot_do_is_a_typed_error(graph: GraphServer) -> None:
    created = await graph.data(
        W4, {"input": await _create_input(graph, "TIGHT")}, "W4CreateInvoice"
    )
    invoice_id = created["createInvoice"]["invoice"]["id"]
    await graph.clear_upstream_requests()
    payload = (
        await graph.data(
            """mutation($i: AddInvoiceItemsInput!) { addInvoiceItems(input: $i) {
                 invoice { id } userErrors { field code message } } }""",
            {"i": {"idempotencyKey": key(), "invoiceId": invoice_id, "items": LINES[:1]}},
        )
    )["addInvoiceItems"]
    assert payload["invoice"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["NOT_SUPPORTED"]
    assert await graph.upstream_requests() == []


async def test_lines_change_and_every_read_after_sees_it(graph: GraphServer) -> None:
    created = (
        await graph.data(W4, {"input": await _create_input(graph, "TIMETAP")}, "W4CreateInvoice")
    )["createInvoice"]["invoice"]
    added = (
        await graph.data(
            """mutation($i: AddInvoiceItemsInput!) { addInvoiceItems(input: $i) {
                 userErrors { code } invoice { total { amount } items { totalCount nodes { id } } } } }""",
            {
                "i": {
                    "idempotencyKey": key(),
                    "invoiceId": created["id"],
                    "items": [{"description": "Late fee", "quantity": "1", "unitPrice": "5.00"}],
                }
            },
        )
    )["addInvoiceItems"]
    assert added["userErrors"] == []
    assert added["invoice"]["items"]["totalCount"] == 4
    first_line = added["invoice"]["items"]["nodes"][0]["id"]
    removed = (
        await graph.data(
            """mutation($i: RemoveInvoiceItemInput!) { removeInvoiceItem(input: $i) {
                 userErrors { code } removedItemId invoice { items { totalCount } } } }""",
            {"i": {"idempotencyKey": key(), "itemId": first_line}},
        )
    )["removeInvoiceItem"]
    assert removed["userErrors"] == []
    assert removed["removedItemId"] == first_line
    assert removed["invoice"]["items"]["totalCount"] == 3
    read = await graph.data(
        "query($id: ID!) { invoice(id: $id) { items { nodes { id } } } }", {"id": created["id"]}
    )
    assert first_line not in [n["id"] for n in read["invoice"]["items"]["nodes"]]
    assert len(read["invoice"]["items"]["nodes"]) == 3


async def test_a_failed_second_call_undoes_the_first(graph: GraphServer) -> None:
    input_ = await _create_input(graph, "TIGHT")
    input_["send"] = True
    client_id = input_["clientId"]
    open_query = """query($c: ID!) { invoices(first: 100, clientId: $c,
        status: [DRAFT, OPEN, SCHEDULED, PARTIALLY_PAID]) { totalCount } }"""
    before = await graph.data(open_query, {"c": client_id})
    async with graph.http.post(
        graph.sandbox.urls["tight"] + "/__sandbox/faults",
        json={"method": "POST", "path": "/send$", "status": 503, "times": 1},
    ) as resp:
        assert resp.status == 204
    payload = (await graph.data(W4, {"input": input_}, "W4CreateInvoice"))["createInvoice"]
    assert [e["code"] for e in payload["userErrors"]] == ["UPSTREAM_FAILED"]
    assert payload["invoice"] is None
    # The draft the first call made is undone (cancelled): nothing open is left behind.
    after = await graph.data(open_query, {"c": client_id})
    assert after["invoices"]["totalCount"] == before["invoices"]["totalCount"]
    # And the key was given back: the same request can be retried and now succeeds.
    retried = (await graph.data(W4, {"input": input_}, "W4CreateInvoice"))["createInvoice"]
    assert retried["userErrors"] == []
    assert retried["invoice"]["status"] == "OPEN"


async def test_subscriptions_freeze_and_cancel(graph: GraphServer) -> None:
    data = await graph.data(
        """{ subscriptions(first: 5, source: [FITNESSFORCE], status: [ACTIVE]) {
             nodes { id status } } }"""
    )
    sub_id = data["subscriptions"]["nodes"][0]["id"]
    frozen = (
        await graph.data(
            """mutation($i: FreezeSubscriptionInput!) { freezeSubscription(input: $i) {
                 userErrors { field code message sourceCode } subscription { id status } } }""",
            {
                "i": {
                    "idempotencyKey": key(),
                    "subscriptionId": sub_id,
                    "from": "2026-12-01",
                    "until": "2026-12-31",
                    "reason": "Travel",
                }
            },
        )
    )["freezeSubscription"]
    assert frozen["userErrors"] == []
    assert frozen["subscription"]["id"] == sub_id
    backwards = (
        await graph.data(
            """mutation($i: FreezeSubscriptionInput!) { freezeSubscription(input: $i) {
                 userErrors { field code } subscription { id } } }""",
            {
                "i": {
                    "idempotencyKey": key(),
                    "subscriptionId": sub_id,
                    "from": "2026-12-31",
                    "until": "2026-12-01",
                }
            },
        )
    )["freezeSubscription"]
    assert backwards["subscription"] is None
    assert backwards["userErrors"][0]["code"] == "INVALID"
    cancelled = (
        await graph.data(
            """mutation($i: CancelSubscriptionInput!) { cancelSubscription(input: $i) {
                 userErrors { code message } subscription { id status } } }""",
            {"i": {"idempotencyKey": key(), "subscriptionId": sub_id, "reason": "Moving"}},
        )
    )["cancelSubscription"]
    assert cancelled["userErrors"] == []
    read = await graph.data("query($id: ID!) { subscription(id: $id) { status } }", {"id": sub_id})
    assert read["subscription"]["status"] == cancelled["subscription"]["status"]
    assert read["subscription"]["status"] in ("CANCELLED", "ACTIVE")


@pytest.fixture
async def restartable(sandbox: RunningSandbox, tmp_path: Path) -> AsyncIterator[Any]:
    db = str(tmp_path / "state.sqlite3")

    async def start() -> tuple[GraphServer, Any]:
        settings = Settings(
            sources=(SourceSettings(Source.TIMETAP, sandbox.urls["timetap"], None),),
            state_db=db,
            mode="sandbox",  # anonymous callers, as over the embedded sandbox
        )
        server, task, url = await serve(create_app(settings))
        return GraphServer(url, sandbox, http), (server, task)

    async with aiohttp.ClientSession() as http:
        yield start


async def test_idempotency_keys_survive_a_restart(restartable: Any) -> None:
    graph, (server, task) = await restartable()
    input_ = await _create_input(graph, "TIMETAP")
    first = (await graph.data(W4, {"input": input_}, "W4CreateInvoice"))["createInvoice"]
    server.should_exit = True
    await task
    graph, (server, task) = await restartable()
    await graph.clear_upstream_requests()
    again = (await graph.data(W4, {"input": input_}, "W4CreateInvoice"))["createInvoice"]
    assert again["invoice"]["id"] == first["invoice"]["id"]
    assert [r for r in await _requests(graph, "TIMETAP") if r["method"] == "POST"] == []
    server.should_exit = True
    await task
