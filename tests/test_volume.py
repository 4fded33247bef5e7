"""The seeded sandbox is big and varied enough, read to the end through the graph's lists."""

from __future__ import annotations

from collections import Counter
from typing import Any

from support import GraphServer


async def _read_all(graph: GraphServer, field: str, selection: str) -> list[dict[str, Any]]:
    query = f"""query($a: String) {{ {field}(first: 500, after: $a) {{
        pageInfo {{ hasNextPage endCursor }} nodes {{ {selection} }} }} }}"""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await graph.data(query, {"a": after}))[field]
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


async def test_every_list_reads_to_the_end_once_and_the_data_is_big_enough(
    graph: GraphServer,
) -> None:
    clients = await _read_all(graph, "clients", "id source email")
    invoices = await _read_all(
        graph,
        "invoices",
        "id source status currency items { nodes { id kind } } amountPaid { amount }",
    )
    subscriptions = await _read_all(graph, "subscriptions", "id source status interval")

    for nodes in (clients, invoices, subscriptions):
        assert len({n["id"] for n in nodes}) == len(nodes), "no duplicate across pages"
    assert len(clients) >= 300
    assert len(invoices) >= 3000
    assert sum(len(i["items"]["nodes"]) for i in invoices) >= 10_000
    assert len(subscriptions) >= 400

    assert {c["source"] for c in clients} == {"FITNESSFORCE", "TIMETAP", "CLUBCOLLECT", "TIGHT"}
    assert len({i["currency"] for i in invoices}) >= 2
    statuses = Counter(i["status"] for i in invoices)
    for status in (
        "DRAFT",
        "SCHEDULED",
        "OPEN",
        "PARTIALLY_PAID",
        "PAID",
        "PAYMENT_FAILED",
        "VOID",
        "REFUNDED",
    ):
        assert statuses[status] > 0, status
    kinds = Counter(item["kind"] for i in invoices for item in i["items"]["nodes"])
    assert kinds["CHARGE"] > 0
    assert kinds["REFUND"] > 0
    assert kinds["DISCOUNT"] + kinds["FEE"] > 0
    assert {s["status"] for s in subscriptions} >= {"ACTIVE", "FROZEN", "CANCELLED", "EXPIRED"}
    # Some people are clients of several sources under the same email.
    emails = Counter(c["email"].lower() for c in clients if c["email"])
    sources_by_email: dict[str, set[str]] = {}
    for c in clients:
        if c["email"]:
            sources_by_email.setdefault(c["email"].lower(), set()).add(c["source"])
    assert sum(1 for s in sources_by_email.values() if len(s) > 1) >= 10
    assert max(emails.values()) >= 4
