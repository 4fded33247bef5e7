"""Who sees what: a staff user sees its tenants, a member its own records, and an ID
from outside the caller's scope answers exactly as an ID that does not exist.

One production-mode server over the session sandbox; every request carries a token
minted for the case. Upstream requests are counted at the sandbox: a key of a tenant
the caller cannot see is never asked for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from clubgraph import ids
from clubgraph.domain import EntityType, Key, Source
from clubgraph.identity import Role, mint
from clubgraph.sandbox.runner import RunningSandbox
from clubgraph.settings import Settings
from support import GraphServer, graph_server

SECRET = "an-authorization-test-secret-of-32-bytes+"


class Caller:
    """Requests to the server as one token holder."""

    def __init__(self, graph: GraphServer, token: str) -> None:
        self.graph = graph
        self.headers = {"Authorization": f"Bearer {token}"}

    async def query(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        payload = {"query": query, "variables": variables or {}}
        async with self.graph.http.post(
            self.graph.url + "/graphql", json=payload, headers=self.headers
        ) as resp:
            assert resp.status == 200, await resp.text()
            body: dict[str, Any] = await resp.json()
            return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.query(query, variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


def staff(graph: GraphServer, *tenants: str) -> Caller:
    return Caller(graph, mint(SECRET, role=Role.STAFF, subject="staff", tenants=tenants))


def member(graph: GraphServer, *clients: str) -> Caller:
    return Caller(graph, mint(SECRET, role=Role.MEMBER, subject="member", clients=clients))


@pytest.fixture(scope="module")
async def graph(sandbox: RunningSandbox) -> AsyncIterator[GraphServer]:
    settings = Settings(
        mode="production",
        jwt_secret=SECRET,
        # The faults injected below must not open a breaker for the other cases.
        breaker_failures=1000,
        max_page_size=500,
        sources=sandbox.source_settings(),
    )
    async with graph_server(settings, sandbox) as server:
        yield server


def _key(global_id: str) -> Key:
    return ids.decode(global_id)


INVOICES = """
query($first: Int!) { invoices(first: $first) { totalCount nodes { id source client { id } } } }
"""


async def test_a_staff_user_sees_only_its_tenants(graph: GraphServer) -> None:
    caller = staff(graph, "fitnessforce:101", "tight:*")
    data = await caller.data(INVOICES, {"first": 200})
    keys = [_key(n["id"]) for n in data["invoices"]["nodes"]]
    assert keys
    assert {(k.source, k.tenant) for k in keys if k.source is Source.FITNESSFORCE} == {
        (Source.FITNESSFORCE, "101")
    }
    assert {k.source for k in keys} == {Source.FITNESSFORCE, Source.TIGHT}
    clients = await caller.data("{ clients(first: 200) { nodes { id } } }")
    assert {_key(n["id"]).source for n in clients["clients"]["nodes"]} <= {
        Source.FITNESSFORCE,
        Source.TIGHT,
    }
    subs = await caller.data("{ subscriptions(first: 200) { nodes { id } } }")
    assert all(
        _key(n["id"]).tenant == "101" or _key(n["id"]).source is Source.TIGHT
        for n in subs["subscriptions"]["nodes"]
    )
    sources = await caller.data("{ sources { source tenantIds } }")
    tenants = {s["source"]: s["tenantIds"] for s in sources["sources"]}
    assert tenants["FITNESSFORCE"] == ["101"]
    assert tenants["TIMETAP"] == []
    assert tenants["CLUBCOLLECT"] == []
    assert tenants["TIGHT"]
    # A tenant asked for explicitly but not the caller's: an empty list, no upstream call.
    await graph.clear_upstream_requests()
    other = await caller.data('{ invoices(first: 5, tenant: "102") { nodes { id } } }')
    assert other["invoices"]["nodes"] == []
    assert not [r for r in await graph.upstream_requests() if "/tenant/102/" in r["path"]]


async def test_an_id_outside_the_scope_answers_as_one_that_does_not_exist(
    graph: GraphServer,
) -> None:
    everyone = staff(graph, "*")
    found = await everyone.data(
        "{ invoices(first: 1, source: [TIMETAP]) { nodes { id items { nodes { id } } } } }"
    )
    invoice = found["invoices"]["nodes"][0]
    real = _key(invoice["id"])
    missing = ids.encode(Key(EntityType.INVOICE, real.source, real.tenant, "999999999"))
    line = invoice["items"]["nodes"][0]["id"]
    caller = staff(graph, "fitnessforce:*")
    query = """
    query($id: ID!, $line: ID!) {
      invoice(id: $id) { id number }
      node(id: $id) { id }
      nodes(ids: [$id]) { id }
      invoiceItem(id: $line) { id }
    }
    """
    await graph.clear_upstream_requests()
    outside = await caller.query(query, {"id": invoice["id"], "line": line})
    assert not [r for r in await graph.upstream_requests() if r["source"] == "timetap"]
    absent = await everyone.query(
        query, {"id": missing, "line": ids.encode(Key(EntityType.INVOICE_ITEM, *_line(line)))}
    )
    assert (
        outside
        == absent
        == {"data": {"invoice": None, "node": None, "nodes": [None], "invoiceItem": None}}
    )
    # Nested reads go through the same check: a client's invoices list of another tenant.
    nested = await caller.query(
        "query($id: ID!) { client(id: $id) { id } invoices(clientId: $id, first: 5) "
        "{ nodes { id } } subscriptions(clientId: $id, first: 5) { nodes { id } } }",
        {"id": ids.encode(Key(EntityType.CLIENT, real.source, real.tenant, "1"))},
    )
    assert nested["data"]["client"] is None
    assert nested["data"]["invoices"]["nodes"] == []
    assert nested["data"]["subscriptions"]["nodes"] == []


def _line(global_id: str) -> tuple[Source, str, str]:
    key = _key(global_id)
    return key.source, key.tenant, key.id + "404"


async def _a_client_with_invoices_and_plans(graph: GraphServer) -> dict[str, Any]:
    everyone = staff(graph, "*")
    data = await everyone.data(
        "{ subscriptions(first: 40, source: [FITNESSFORCE]) { nodes { client { id email "
        "invoices(first: 100) { totalCount nodes { id items(first: 3) { nodes { id } } } } "
        "} } } }"
    )
    for node in data["subscriptions"]["nodes"]:
        client = node["client"]
        if client and client["invoices"]["nodes"]:
            return dict(client)
    raise AssertionError("no FitnessForce client with invoices and a subscription")


async def test_a_member_sees_only_its_own_records(graph: GraphServer) -> None:
    own = await _a_client_with_invoices_and_plans(graph)
    caller = member(graph, own["id"])
    mine = await caller.data(INVOICES, {"first": 200})
    assert mine["invoices"]["nodes"]
    assert {n["client"]["id"] for n in mine["invoices"]["nodes"]} == {own["id"]}
    assert {n["id"] for n in mine["invoices"]["nodes"]} == {
        n["id"] for n in own["invoices"]["nodes"]
    }
    clients = await caller.data("{ clients(first: 10) { nodes { id } } }")
    assert [n["id"] for n in clients["clients"]["nodes"]] == [own["id"]]
    subs = await caller.data("{ subscriptions(first: 50) { nodes { client { id } } } }")
    assert subs["subscriptions"]["nodes"]
    assert {n["client"]["id"] for n in subs["subscriptions"]["nodes"]} == {own["id"]}
    sources = await caller.data("{ sources { tenantIds } }")
    assert all(s["tenantIds"] == [] for s in sources["sources"])
    # Another client's records, by ID or nested, are absent.
    everyone = staff(graph, "*")
    other = await everyone.data(
        "{ invoices(first: 20, source: [FITNESSFORCE]) "
        "{ nodes { id client { id email } items { nodes { id } } } } }"
    )
    theirs = next(n for n in other["invoices"]["nodes"] if n["client"]["id"] != own["id"])
    body = await caller.query(
        "query($i: ID!, $c: ID!, $l: ID!, $e: String!) { invoice(id: $i) { id } "
        "client(id: $c) { id } invoiceItem(id: $l) { id } node(id: $c) { id } "
        "person(email: $e) { profiles { id } } }",
        {
            "i": theirs["id"],
            "c": theirs["client"]["id"],
            "l": theirs["items"]["nodes"][0]["id"],
            "e": theirs["client"]["email"],
        },
    )
    assert body["data"] == {
        "invoice": None,
        "client": None,
        "invoiceItem": None,
        "node": None,
        "person": {"profiles": []},
    }
    # Its own line is there, through the invoice it belongs to.
    line = own["invoices"]["nodes"][0]["items"]["nodes"][0]["id"]
    got = await caller.data("query($l: ID!) { invoiceItem(id: $l) { id } }", {"l": line})
    assert got["invoiceItem"] == {"id": line}


UPDATE = """
mutation($id: ID!, $key: String!) {
  updateInvoice(input: {invoiceId: $id, idempotencyKey: $key, note: "x"}) {
    userErrors { code message }
  }
}
"""


async def test_writes_stay_in_the_callers_scope(graph: GraphServer) -> None:
    everyone = staff(graph, "*")
    data = await everyone.data(
        "{ t: invoices(first: 1, source: [TIGHT]) { nodes { id } } "
        'f: invoices(first: 1, source: [FITNESSFORCE], tenant: "101") '
        "{ nodes { id client { id } } } }"
    )
    tight = data["t"]["nodes"][0]["id"]
    await graph.clear_upstream_requests()
    caller = staff(graph, "fitnessforce:101")
    refused = await caller.data(UPDATE, {"id": tight, "key": "authz-1"})
    assert refused["updateInvoice"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert not [r for r in await graph.upstream_requests() if r["method"] != "GET"]
    created = await caller.data(
        'mutation { createInvoice(input: {source: TIGHT, idempotencyKey: "authz-2", '
        'lines: [{description: "x", quantity: "1", unitPrice: "1.00"}]}) '
        "{ userErrors { code field } } }"
    )
    assert created["createInvoice"]["userErrors"][0]["code"] in {"NOT_FOUND", "REQUIRED"}
    own = data["f"]["nodes"][0]
    reader = member(graph, own["client"]["id"])
    forbidden = await reader.data(UPDATE, {"id": own["id"], "key": "authz-3"})
    assert forbidden["updateInvoice"]["userErrors"][0]["code"] == "FORBIDDEN"
    assert not [r for r in await graph.upstream_requests() if r["method"] != "GET"]


SECRETS = (
    "sandbox-secret",
    "cc_sandbox_partner_9f3b7c2e41d8",
    "tight-sandbox-secret-7001",
    "pk-50101-9a7e3d21c6b84f05",
    "pk-50102-2c5f8e17a9d04b63",
    SECRET,
)


async def test_credentials_reach_no_response_and_no_log_line(
    graph: GraphServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Upstreams that refuse, fail and answer garbage: the errors and the log lines say
    what failed, never with a credential, a token or the signing secret."""
    caller = staff(graph, "*")
    query = (
        "{ invoices(first: 30) { nodes { id client { name } } } "
        "sources { source tenantIds breakerState } }"
    )
    faults = [
        {"path": ".", "status": 401, "times": 4},
        {"path": ".", "status": 500, "times": 4, "body": {"error": "boom"}},
        {"path": ".", "kind": "malformed", "times": 4},
    ]
    bodies = []
    with caplog.at_level("DEBUG"):
        for fault in faults:
            for url in graph.sandbox.urls.values():
                async with graph.http.post(url + "/__sandbox/faults", json=fault) as resp:
                    assert resp.status == 204
            try:
                async with graph.http.post(
                    graph.url + "/graphql", json={"query": query}, headers=caller.headers
                ) as resp:
                    bodies.append(await resp.text())
            finally:
                for url in graph.sandbox.urls.values():
                    async with graph.http.delete(url + "/__sandbox/faults") as resp:
                        assert resp.status == 204
    logged = "\n".join(r.getMessage() for r in caplog.records) + "\n".join(
        str(r.exc_info[1]) for r in caplog.records if r.exc_info
    )
    token = caller.headers["Authorization"].split()[1]
    assert any("errors" in b for b in bodies)
    for text in [*bodies, logged]:
        for secret in (*SECRETS, token):
            assert secret not in text
