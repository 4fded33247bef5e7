"""The schema over the four sandbox sources, through real HTTP: whole results, node round trips,
lists and their filters, the workloads."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from clubgraph import workloads
from support import GraphServer

SOURCES = ["FITNESSFORCE", "TIMETAP", "CLUBCOLLECT", "TIGHT"]

INVOICE_FIELDS = """
  __typename id source tenantId sourceId number status statusRaw currency issuedAt dueAt paidAt
  subtotal { amount currency minorUnits formatted } discount { amount } tax { amount }
  total { amount currency minorUnits } amountPaid { amount } balanceDue { amount currency }
  items { nodes { __typename id position description kind quantity total { amount currency }
          invoice { id } } }
  client { __typename id name email }
"""


async def _first_invoice(graph: GraphServer, source: str) -> dict[str, Any]:
    data = await graph.data(
        "query($s: [Source!]) { invoices(first: 1, source: $s) { nodes { %s } } }" % INVOICE_FIELDS,
        {"s": [source]},
    )
    nodes = data["invoices"]["nodes"]
    assert len(nodes) == 1
    return nodes[0]


@pytest.mark.parametrize("source", SOURCES)
async def test_node_round_trip_for_invoices_their_items_and_clients(
    graph: GraphServer, source: str
) -> None:
    invoice = await _first_invoice(graph, source)
    assert invoice["source"] == source
    again = await graph.data(
        f"query($id: ID!) {{ node(id: $id) {{ ... on Invoice {{ {INVOICE_FIELDS} }} }} }}",
        {"id": invoice["id"]},
    )
    assert again["node"] == invoice
    ids = [item["id"] for item in invoice["items"]["nodes"]] + [invoice["client"]["id"]]
    assert invoice["items"]["nodes"], "every seeded invoice has lines"
    found = await graph.data(
        "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }", {"ids": ids}
    )
    assert found["nodes"] == [
        *({"__typename": "InvoiceItem", "id": i["id"]} for i in invoice["items"]["nodes"]),
        {"__typename": "Client", "id": invoice["client"]["id"]},
    ]
    for item in invoice["items"]["nodes"]:
        assert item["invoice"] == {"id": invoice["id"]}


@pytest.mark.parametrize("source", ["FITNESSFORCE", "TIGHT"])
async def test_node_round_trip_for_subscriptions(graph: GraphServer, source: str) -> None:
    fields = (
        "__typename id source kind planName status interval price { amount currency } client { id }"
    )
    data = await graph.data(
        "query($s: [Source!]) { subscriptions(first: 3, source: $s) { nodes { %s } } }" % fields,
        {"s": [source]},
    )
    subs = data["subscriptions"]["nodes"]
    assert len(subs) == 3
    for sub in subs:
        again = await graph.data(
            f"query($id: ID!) {{ subscription(id: $id) {{ {fields} }} }}", {"id": sub["id"]}
        )
        assert again["subscription"] == sub
        owner = await graph.data(
            "query($id: ID!) { client(id: $id) { subscriptions(first: 100) { nodes { id } } } }",
            {"id": sub["client"]["id"]},
        )
        assert {"id": sub["id"]} in owner["client"]["subscriptions"]["nodes"]


@pytest.mark.parametrize("source", SOURCES)
async def test_invoice_amounts_are_exact_and_consistent(graph: GraphServer, source: str) -> None:
    invoice = await _first_invoice(graph, source)
    total = invoice["total"]
    assert isinstance(total["amount"], str)
    assert Decimal(total["amount"]) * 100 == total["minorUnits"]
    assert total["currency"] == invoice["currency"] == invoice["balanceDue"]["currency"]
    assert invoice["subtotal"]["formatted"].endswith(" " + invoice["currency"])
    issued = datetime.fromisoformat(invoice["issuedAt"])
    assert issued.tzinfo is not None


async def test_missing_and_malformed_ids(graph: GraphServer) -> None:
    invoice = await _first_invoice(graph, "TIMETAP")
    import base64

    raw = base64.urlsafe_b64decode(invoice["id"] + "==").decode().rsplit("|", 1)[0] + "|999999999"
    missing = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    assert await graph.data("query($id: ID!) { invoice(id: $id) { id } }", {"id": missing}) == {
        "invoice": None
    }
    body = await graph.query('{ invoice(id: "nonsense") { id } }')
    assert body["data"] == {"invoice": None}
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "not a valid ID" in body["errors"][0]["message"]
    wrong_type = await graph.query(
        "query($id: ID!) { client(id: $id) { id } }", {"id": invoice["id"]}
    )
    assert wrong_type["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_page_above_the_maximum_is_an_error(graph: GraphServer) -> None:
    body = await graph.query("{ invoices(first: 501) { edges { cursor } } }")
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "PAGE_SIZE_EXCEEDED"
    assert "maximum page size of 500" in body["errors"][0]["message"]
    negative = await graph.query("{ clients(first: -1) { edges { cursor } } }")
    assert negative["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "must not be negative" in negative["errors"][0]["message"]


async def test_a_foreign_cursor_is_refused(graph: GraphServer) -> None:
    page = await graph.data("{ clients(first: 2) { pageInfo { endCursor } } }")
    body = await graph.query(
        "query($a: String) { invoices(first: 2, after: $a) { edges { cursor } } }",
        {"a": page["clients"]["pageInfo"]["endCursor"]},
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_invoices_merge_all_sources_newest_first(graph: GraphServer) -> None:
    data = await graph.data(workloads.load("W1"), {"first": 50})
    edges = data["invoices"]["edges"]
    assert len(edges) == 50
    assert {e["node"]["source"] for e in edges} == set(SOURCES)
    issued = [datetime.fromisoformat(e["node"]["issuedAt"]) for e in edges]
    assert issued == sorted(issued, reverse=True)
    # TimeTap's status lists are bare arrays: no upstream count, so no honest total.
    assert data["invoices"]["totalCount"] is None
    counted = await graph.data(
        "{ invoices(first: 1, source: [FITNESSFORCE, CLUBCOLLECT, TIGHT]) { totalCount } }"
    )
    assert counted["invoices"]["totalCount"] >= 2500


@pytest.mark.parametrize(
    ("source", "status"),
    [
        ("TIGHT", "PAID"),
        ("TIMETAP", "PARTIALLY_PAID"),
        ("FITNESSFORCE", "VOID"),
        ("CLUBCOLLECT", "OPEN"),
    ],
)
async def test_paging_a_filtered_list_to_the_end(
    graph: GraphServer, source: str, status: str
) -> None:
    query = """query($s: [Source!], $st: [InvoiceStatus!], $a: String) {
      invoices(first: 7, after: $a, source: $s, status: $st) {
        totalCount pageInfo { hasNextPage endCursor } nodes { id status source issuedAt } } }"""
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        data = await graph.data(query, {"s": [source], "st": [status], "a": after})
        page = data["invoices"]
        seen += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen, f"the sandbox seeds {status} invoices in {source}"
    assert all(n["status"] == status and n["source"] == source for n in seen)
    assert len({n["id"] for n in seen}) == len(seen)
    issued = [datetime.fromisoformat(n["issuedAt"]) for n in seen]
    assert issued == sorted(issued, reverse=True)
    if page["totalCount"] is not None:
        assert page["totalCount"] == len(seen)


async def test_clients_are_listed_by_name_over_all_sources(graph: GraphServer) -> None:
    data = await graph.data("{ clients(first: 400) { totalCount nodes { name source } } }")
    nodes = data["clients"]["nodes"]
    assert len(nodes) >= 300
    assert {n["source"] for n in nodes} == set(SOURCES)
    names = [n["name"].casefold() for n in nodes]
    assert names == sorted(names)


async def test_client_invoices_both_ways(graph: GraphServer) -> None:
    invoice = await _first_invoice(graph, "FITNESSFORCE")
    client_id = invoice["client"]["id"]
    data = await graph.data(
        """query($c: ID!) {
          client(id: $c) { invoices(first: 500) { totalCount nodes { id client { id } } } }
          invoices(first: 500, clientId: $c) { nodes { id } } }""",
        {"c": client_id},
    )
    nodes = data["client"]["invoices"]["nodes"]
    assert {"id": invoice["id"], "client": {"id": client_id}} in nodes
    assert all(n["client"]["id"] == client_id for n in nodes)
    assert [n["id"] for n in nodes] == [n["id"] for n in data["invoices"]["nodes"]]


async def test_subscription_invoices_point_back(graph: GraphServer) -> None:
    for source in ("FITNESSFORCE", "TIGHT"):
        data = await graph.data(
            """query($s: [Source!]) { subscriptions(first: 100, source: $s) {
              nodes { id invoices(first: 50) { nodes { id subscription { id } } } } } }""",
            {"s": [source]},
        )
        billed = [s for s in data["subscriptions"]["nodes"] if s["invoices"]["nodes"]]
        assert billed, f"some {source} subscriptions have invoices"
        for sub in billed:
            assert {i["subscription"]["id"] for i in sub["invoices"]["nodes"]} == {sub["id"]}


async def test_w2_returns_500_invoices_from_every_source(graph: GraphServer) -> None:
    data = await graph.data(workloads.load("W2"))
    nodes = [e["node"] for e in data["invoices"]["edges"]]
    assert len(nodes) == 500
    assert {n["source"] for n in nodes} == set(SOURCES)
    assert all(n["items"]["nodes"] for n in nodes)


async def test_w3_shows_one_person_across_all_sources(graph: GraphServer) -> None:
    # People 0-4 of the sandbox's pool are customers of all four sources.
    listing = await graph.data("{ clients(first: 500, source: [TIGHT]) { nodes { id email } } }")
    candidates = listing["clients"]["nodes"]
    for client in candidates:
        data = await graph.data(workloads.load("W3"), {"clientId": client["id"]})
        person = data["client"]["person"]
        if person and {c["source"] for c in person["profiles"]} == set(SOURCES):
            break
    else:
        pytest.fail("no Tight client is also a client of the other three sources")
    invoices = [e["node"] for e in person["invoices"]["edges"]]
    assert {i["source"] for i in invoices} == set(SOURCES)
    assert person["invoices"]["totalCount"] == len(invoices)
    owed: dict[str, Decimal] = {}
    for i in invoices:
        if i["status"] in ("OPEN", "PARTIALLY_PAID", "PAYMENT_FAILED"):
            currency = i["balanceDue"]["currency"]
            owed[currency] = owed.get(currency, Decimal(0)) + Decimal(i["balanceDue"]["amount"])
    assert owed, "the sandbox's everywhere-customers owe something"
    assert {b["currency"]: Decimal(b["amount"]) for b in person["balanceDue"]} == owed
    assert all(s["status"] == "ACTIVE" for s in person["subscriptions"]["nodes"])


async def test_every_type_and_field_is_described(graph: GraphServer) -> None:
    data = await graph.data(
        """{ __schema { types { name kind description
             fields { name description args { name description } }
             inputFields { name description } } } }"""
    )
    # Names starting with "_" or "link__" are introspection's and Apollo Federation's
    # (``_service``, ``_entities``, ``@link``), defined by their specifications.
    ours = [
        t
        for t in data["__schema"]["types"]
        if not t["name"].startswith(("_", "link__"))
        and t["kind"] in ("OBJECT", "INTERFACE", "ENUM", "INPUT_OBJECT")
        and t["name"] not in ("Boolean", "String")
    ]
    missing = [t["name"] for t in ours if not t["description"]]
    missing += [
        f"{t['name']}.{f['name']}"
        for t in ours
        for f in t["fields"] or []
        if not f["description"] and not f["name"].startswith("_")
    ]
    missing += [
        f"{t['name']}.{f['name']}({a['name']})"
        for t in ours
        for f in t["fields"] or []
        for a in f["args"]
        if not a["description"] and not f["name"].startswith("_")
    ]
    missing += [
        f"{t['name']}.{f['name']}"
        for t in ours
        for f in t["inputFields"] or []
        if not f["description"]
    ]
    assert missing == []


TIMETAP_INVOICE = {
    "id": "SW52b2ljZXx0aW1ldGFwfDUwMTAxfDgxMDQ2Nw",
    "source": "TIMETAP",
    "tenantId": "50101",
    "sourceId": "810467",
    "number": "50101-00467",
    "status": "PARTIALLY_PAID",
    "statusRaw": "OPEN/Partial Payment",
    "currency": "USD",
    "issuedAt": "2026-10-31T04:58:00+00:00",
    "dueAt": "2026-11-14T04:58:00+00:00",
    "subtotal": {"amount": "792.40"},
    "discount": {"amount": "4.88"},
    "tax": {"amount": "9.07"},
    "total": {"amount": "819.43", "minorUnits": 81943},
    "amountPaid": {"amount": "245.83"},
    "balanceDue": {"amount": "573.60"},
    "note": "Thanks for visiting!",
    "items": [
        {
            "sourceId": "810467/931706",
            "position": 0,
            "description": "Massage 60 min with Dana Whitfield",
            "kind": "CHARGE",
            "kindRaw": "APPOINTMENT",
            "quantity": "1",
            "unitPrice": {"amount": "109.95"},
            "discount": {"amount": "0.00"},
            "tax": {"amount": "9.07"},
            "total": {"amount": "119.02"},
        },
        {
            "sourceId": "810467/931707",
            "position": 1,
            "description": "5 Session Package",
            "kind": "CHARGE",
            "kindRaw": "PACKAGE",
            "quantity": "1",
            "unitPrice": {"amount": "399.95"},
            "discount": {"amount": "0.00"},
            "tax": {"amount": "0.00"},
            "total": {"amount": "399.95"},
        },
        {
            "sourceId": "810467/931708",
            "position": 2,
            "description": "Reformer Group Class",
            "kind": "CHARGE",
            "kindRaw": "APPOINTMENT",
            "quantity": "1",
            "unitPrice": {"amount": "32.50"},
            "discount": {"amount": "4.88"},
            "tax": {"amount": "0.00"},
            "total": {"amount": "27.62"},
        },
        {
            "sourceId": "810467/931709",
            "position": 3,
            "description": "10-Class Pack",
            "kind": "CHARGE",
            "kindRaw": "PACKAGE",
            "quantity": "1",
            "unitPrice": {"amount": "250.00"},
            "discount": {"amount": "0.00"},
            "tax": {"amount": "0.00"},
            "total": {"amount": "250.00"},
        },
    ],
    "client": {
        "sourceId": "710029",
        "name": "Amelia Dubois",
        "email": None,
        "phone": "+1 555 1698665",
    },
}


async def test_a_seeded_timetap_invoice_as_a_whole(graph: GraphServer) -> None:
    data = await graph.data(
        """query($id: ID!) { invoice(id: $id) {
          id source tenantId sourceId number status statusRaw currency issuedAt dueAt
          subtotal { amount } discount { amount } tax { amount } total { amount minorUnits }
          amountPaid { amount } balanceDue { amount } note
          items { nodes { sourceId position description kind kindRaw quantity
                  unitPrice { amount } discount { amount } tax { amount } total { amount } } }
          client { sourceId name email phone }
          raw } }""",
        {"id": TIMETAP_INVOICE["id"]},
    )
    invoice = data["invoice"]
    raw = invoice.pop("raw")
    invoice["items"] = invoice["items"]["nodes"]
    assert invoice == TIMETAP_INVOICE
    # The upstream JSON stays reachable, numbers as the upstream sent them.
    assert (raw["invoiceId"], raw["status"], raw["subStatus"]) == (
        810467,
        "OPEN",
        "Partial Payment",
    )
    assert (raw["subtotalAmount"], raw["transactionFeeAmount"], raw["balanceAmount"]) == (
        787.52,
        22.84,
        573.6,
    )
    assert raw["invoiceDate"] == 1793422680000
    assert [i["rate"] for i in raw["invoiceItem"]] == [109.95, 399.95, 32.5, 250]
