"""Every mutation, through GraphQL, on every source that supports it; what a source does
not support is refused as NOT_SUPPORTED without an upstream call."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from support import GraphServer
from test_mutations import W4, _create_input

PAYLOAD = "userErrors { field code message sourceCode }"
INVOICE = "invoice { id status items { totalCount nodes { id } } }"


async def _mutate(
    graph: GraphServer, name: str, input_type: str, input_: dict[str, Any], selection: str
) -> dict[str, Any]:
    query = f"""mutation($i: {input_type}!) {{ {name}(input: $i) {{ {PAYLOAD} {selection} }} }}"""
    payload: dict[str, Any] = (
        await graph.data(query, {"i": {"idempotencyKey": uuid.uuid4().hex, **input_}})
    )[name]
    return payload


async def _ok(
    graph: GraphServer, name: str, input_type: str, input_: dict[str, Any], selection: str
) -> dict[str, Any]:
    payload = await _mutate(graph, name, input_type, input_, selection)
    assert payload["userErrors"] == [], (name, payload["userErrors"])
    return payload


async def _new_invoice(graph: GraphServer, source: str) -> dict[str, Any]:
    created = await graph.data(W4, {"input": await _create_input(graph, source)}, "W4CreateInvoice")
    invoice: dict[str, Any] = created["createInvoice"]["invoice"]
    return invoice


async def _status(graph: GraphServer, invoice_id: str) -> str:
    data = await graph.data("query($id: ID!) { invoice(id: $id) { status } }", {"id": invoice_id})
    status: str = data["invoice"]["status"]
    return status


@pytest.mark.parametrize("source", ["TIMETAP", "CLUBCOLLECT", "TIGHT"])
async def test_update_void_and_delete_invoices(graph: GraphServer, source: str) -> None:
    invoice = await _new_invoice(graph, source)
    change: dict[str, Any] = {"invoiceId": invoice["id"]}
    if source == "CLUBCOLLECT":
        change["recipient"] = {"email": "ada.new@example.org"}
    else:
        change["dueOn"] = (date(2027, 1, 31)).isoformat()
    updated = await _ok(graph, "updateInvoice", "UpdateInvoiceInput", change, INVOICE)
    assert updated["invoice"]["id"] == invoice["id"]
    if source == "CLUBCOLLECT":
        raw = await graph.data(
            "query($id: ID!) { invoice(id: $id) { raw } }", {"id": invoice["id"]}
        )
        assert raw["invoice"]["raw"]["customer"]["email"]["email_address"] == "ada.new@example.org"
    else:
        due = await graph.data(
            "query($id: ID!) { invoice(id: $id) { dueAt } }", {"id": invoice["id"]}
        )
        assert due["invoice"]["dueAt"].startswith("2027-01-3")
    if source in ("TIMETAP", "CLUBCOLLECT"):
        doomed = await _new_invoice(graph, source)
        deleted = await _ok(
            graph,
            "deleteInvoice",
            "DeleteInvoiceInput",
            {"invoiceId": doomed["id"]},
            "deletedInvoiceId",
        )
        assert deleted["deletedInvoiceId"] == doomed["id"]
        after = await graph.data(
            "query($id: ID!) { invoice(id: $id) { status } }", {"id": doomed["id"]}
        )
        assert after["invoice"] is None or after["invoice"]["status"] == "DELETED"
    reason = {"reason": "Billed by mistake"} if source == "CLUBCOLLECT" else {}
    if source == "CLUBCOLLECT":
        await _ok(graph, "sendInvoice", "SendInvoiceInput", {"invoiceId": invoice["id"]}, INVOICE)
    voided = await _ok(
        graph, "voidInvoice", "VoidInvoiceInput", {"invoiceId": invoice["id"], **reason}, INVOICE
    )
    assert voided["invoice"]["status"] == "VOID"
    assert await _status(graph, invoice["id"]) == "VOID"
    again = await _mutate(
        graph, "voidInvoice", "VoidInvoiceInput", {"invoiceId": invoice["id"], **reason}, INVOICE
    )
    assert [e["code"] for e in again["userErrors"]] in (["ALREADY_DONE"], ["INVALID_STATE"])


async def test_tight_sends_a_draft(graph: GraphServer) -> None:
    invoice = await _new_invoice(graph, "TIGHT")
    assert invoice["status"] == "DRAFT"
    sent = await _ok(
        graph, "sendInvoice", "SendInvoiceInput", {"invoiceId": invoice["id"]}, INVOICE
    )
    assert sent["invoice"]["status"] == "OPEN"
    twice = await _mutate(
        graph, "sendInvoice", "SendInvoiceInput", {"invoiceId": invoice["id"]}, INVOICE
    )
    assert [e["code"] for e in twice["userErrors"]] == ["INVALID_STATE"]


async def test_timetap_lines_change_one_by_one(graph: GraphServer) -> None:
    invoice = await _new_invoice(graph, "TIMETAP")
    line = invoice["items"]["nodes"][1]["id"]
    changed = await _ok(
        graph,
        "updateInvoiceItem",
        "UpdateInvoiceItemInput",
        {"itemId": line, "quantity": "3", "description": "Personal training x3"},
        "item { id description quantity total { amount } } " + INVOICE,
    )
    assert changed["item"]["description"] == "Personal training x3"
    assert changed["item"]["total"]["amount"] == "105.30"
    bad = await _mutate(
        graph,
        "updateInvoiceItem",
        "UpdateInvoiceItemInput",
        {"itemId": line, "quantity": "0"},
        "item { id }",
    )
    assert [(e["field"], e["code"]) for e in bad["userErrors"]] == [(["quantity"], "INVALID")]


async def test_fitnessforce_invoices_send_void_and_balance_links(graph: GraphServer) -> None:
    data = await graph.data(
        """{ invoices(first: 10, source: [FITNESSFORCE], status: [OPEN], withBalanceDue: true) {
             nodes { id } } }"""
    )
    first, second = (n["id"] for n in data["invoices"]["nodes"][:2])
    await _ok(graph, "sendInvoice", "SendInvoiceInput", {"invoiceId": first}, INVOICE)
    link = await _ok(
        graph,
        "sendInvoiceBalanceLink",
        "SendInvoiceBalanceLinkInput",
        {"invoiceId": first, "channels": ["EMAIL", "SMS"]},
        "deliveries { channel success error { code sourceCode } } " + INVOICE,
    )
    assert [d["channel"] for d in link["deliveries"]] == ["EMAIL", "SMS"]
    for delivery in link["deliveries"]:
        assert delivery["success"] or delivery["error"]["code"] == "CONTACT_REQUIRED"
    voided = await _ok(
        graph,
        "voidInvoice",
        "VoidInvoiceInput",
        {"invoiceId": second, "reason": "Duplicate"},
        INVOICE,
    )
    assert voided["invoice"]["status"] == "VOID"


async def test_fitnessforce_memberships_go_through_every_operation(graph: GraphServer) -> None:
    data = await graph.data(
        """{ subscriptions(first: 40, source: [FITNESSFORCE], status: [ACTIVE]) {
             nodes { id statusRaw } } }"""
    )
    # PendingCancellation counts as ACTIVE (it still bills) but cannot be frozen.
    subs = [n["id"] for n in data["subscriptions"]["nodes"] if n["statusRaw"] == "Active"]
    selection = "subscription { id status startsAt endsAt }"
    today = date.today()
    scheduled = {
        "from": (today + timedelta(days=10)).isoformat(),
        "until": (today + timedelta(days=20)).isoformat(),
        "reason": "Holiday",
    }
    await _ok(
        graph,
        "freezeSubscription",
        "FreezeSubscriptionInput",
        {"subscriptionId": subs[0], **scheduled},
        selection,
    )
    await _ok(
        graph,
        "cancelSubscriptionFreeze",
        "CancelSubscriptionFreezeInput",
        {"subscriptionId": subs[0]},
        selection,
    )
    running = {
        "from": today.isoformat(),
        "until": (today + timedelta(days=20)).isoformat(),
        "reason": "Injury",
    }
    frozen = await _ok(
        graph,
        "freezeSubscription",
        "FreezeSubscriptionInput",
        {"subscriptionId": subs[1], **running},
        selection,
    )
    assert frozen["subscription"]["status"] == "FROZEN"
    stopped = await _ok(
        graph,
        "stopSubscriptionFreeze",
        "StopSubscriptionFreezeInput",
        {"subscriptionId": subs[1]},
        selection,
    )
    assert stopped["subscription"]["status"] == "ACTIVE"
    new_end = (today + timedelta(days=400)).isoformat()
    ended = await _ok(
        graph,
        "changeSubscriptionEndDate",
        "ChangeSubscriptionDateInput",
        {"subscriptionId": subs[2], "date": new_end},
        selection,
    )
    assert ended["subscription"]["endsAt"].startswith(new_end)
    cancelled = await _ok(
        graph,
        "cancelSubscription",
        "CancelSubscriptionInput",
        {"subscriptionId": subs[3], "reason": "Moving away"},
        selection,
    )
    assert cancelled["subscription"]["status"] in ("CANCELLED", "ACTIVE")
    await _ok(
        graph,
        "reactivateSubscription",
        "ReactivateSubscriptionInput",
        {"subscriptionId": subs[3]},
        selection,
    )
    voided = await _ok(
        graph,
        "voidSubscription",
        "VoidSubscriptionInput",
        {"subscriptionId": subs[4], "reason": "Signed up twice"},
        selection,
    )
    assert voided["subscription"]["status"] == "VOID"
    pending = await graph.data(
        """{ subscriptions(first: 5, source: [FITNESSFORCE], status: [PENDING]) {
             nodes { id startsAt } } }"""
    )
    sub = pending["subscriptions"]["nodes"][0]
    new_start = (date.fromisoformat(sub["startsAt"][:10]) + timedelta(days=7)).isoformat()
    moved = await _ok(
        graph,
        "changeSubscriptionStartDate",
        "ChangeSubscriptionDateInput",
        {"subscriptionId": sub["id"], "date": new_start},
        selection,
    )
    assert moved["subscription"]["startsAt"].startswith(new_start)


NOT_SUPPORTED = [
    ("FITNESSFORCE", "addInvoiceItems", "AddInvoiceItemsInput"),
    ("CLUBCOLLECT", "removeInvoiceItem", "RemoveInvoiceItemInput"),
    ("TIGHT", "deleteInvoice", "DeleteInvoiceInput"),
    ("TIMETAP", "sendInvoiceBalanceLink", "SendInvoiceBalanceLinkInput"),
]


@pytest.mark.parametrize(("source", "name", "input_type"), NOT_SUPPORTED)
async def test_what_a_source_cannot_do_never_reaches_it(
    graph: GraphServer, source: str, name: str, input_type: str
) -> None:
    data = await graph.data(
        """query($s: [Source!]) { invoices(first: 1, source: $s) {
             nodes { id items(first: 1) { nodes { id } } } } }""",
        {"s": [source]},
    )
    invoice = data["invoices"]["nodes"][0]
    input_: dict[str, Any] = {
        "AddInvoiceItemsInput": {
            "invoiceId": invoice["id"],
            "items": [{"description": "x", "quantity": "1", "unitPrice": "1"}],
        },
        "RemoveInvoiceItemInput": {"itemId": invoice["items"]["nodes"][0]["id"]},
        "DeleteInvoiceInput": {"invoiceId": invoice["id"]},
        "SendInvoiceBalanceLinkInput": {"invoiceId": invoice["id"], "channels": ["EMAIL"]},
    }[input_type]
    await graph.clear_upstream_requests()
    payload = await _mutate(graph, name, input_type, input_, "clientMutationId")
    assert [e["code"] for e in payload["userErrors"]] == ["NOT_SUPPORTED"]
    assert await graph.upstream_requests() == []
