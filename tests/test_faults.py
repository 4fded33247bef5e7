"""Every fault on every source: the others still answer, errors are coded, nothing leaks.

For each kind of upstream fault injected into one source at a time (for every request
to it), three queries run at once over a graph of all four sources: one invoice of
each source with its client (nullable lookups, so one response shows partial data),
the faulted source's invoice list, and the lists of the three healthy sources. The
response is always HTTP 200; healthy sources answer in full; every error carries a
path and ``extensions { code source }`` naming the fault's code and the faulted
source; drift to an unseen enum value is data (``UNKNOWN`` beside the raw value), not
an error; and no response holds an upstream URL, host, port, body, stack trace or
credential.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from clubgraph import ids
from clubgraph.app import create_app
from clubgraph.connectors.clubcollect.credentials import DEV_CREDENTIALS as CLUBCOLLECT_DEV
from clubgraph.connectors.fitnessforce.credentials import DEV_CREDENTIALS as FITNESSFORCE_DEV
from clubgraph.connectors.tight.credentials import DEV_CREDENTIALS as TIGHT_DEV
from clubgraph.connectors.timetap.credentials import DEV_CREDENTIALS as TIMETAP_DEV
from clubgraph.sandbox.fitnessforce.responses import STATE as FITNESSFORCE_STATE
from clubgraph.sandbox.runner import RunningSandbox
from clubgraph.settings import Settings
from support import GraphServer, serve

SOURCES = ("fitnessforce", "timetap", "clubcollect", "tight")
ENUM = {s: s.upper() for s in SOURCES}

# A body no response may ever repeat.
INJECTED = {"error": "injected-upstream-body-7f3a", "detail": "stack at upstream.py:12"}
UNSEEN = "NEVER_SEEN_7F3A"

# A field each source's invoice mapping requires, and one to give a value of the wrong type.
REQUIRED = {
    "fitnessforce": "currency_code",
    "timetap": "invoiceItemId",
    "clubcollect": "invoice_id",
    "tight": "date",
}
WRONG_TYPE = {
    "fitnessforce": ("net_amount", "lots"),
    "timetap": ("subtotalAmount", "lots"),
    "clubcollect": ("invoice_lines", "lots"),
    "tight": ("totalAmountCents", "lots"),
}
# Upstream field names no GraphQL response holds (a body that leaked would).
UPSTREAM_FIELDS = ('"currency_code"', '"invoiceItem"', '"invoice_lines"', '"lineItems"')


@dataclass(frozen=True)
class Fault:
    """One kind of fault: its spec for a source, and the error code it must give."""

    name: str
    spec: Callable[[str], dict[str, Any]]
    code: str | None  # None: no error at all

    def __str__(self) -> str:
        return self.name


FAULTS = [
    Fault("status-500", lambda s: {"status": 500, "body": INJECTED}, "UPSTREAM_UNAVAILABLE"),
    Fault(
        "status-503-retry-after",
        lambda s: {"status": 503, "retry_after": 5, "body": INJECTED},
        "UPSTREAM_UNAVAILABLE",
    ),
    Fault(
        "status-429-retry-after",
        lambda s: {"status": 429, "retry_after": 5, "body": INJECTED},
        "UPSTREAM_RATE_LIMITED",
    ),
    Fault("status-401", lambda s: {"status": 401, "body": INJECTED}, "UPSTREAM_AUTH"),
    Fault("reset", lambda s: {"kind": "reset"}, "UPSTREAM_UNAVAILABLE"),
    Fault("hang", lambda s: {"kind": "hang"}, "UPSTREAM_TIMEOUT"),
    Fault("truncate", lambda s: {"kind": "truncate"}, "UPSTREAM_BAD_RESPONSE"),
    Fault("malformed", lambda s: {"kind": "malformed"}, "UPSTREAM_BAD_RESPONSE"),
    Fault(
        "drop-field",
        lambda s: {"kind": "drop_field", "field": REQUIRED[s]},
        "UPSTREAM_BAD_RESPONSE",
    ),
    Fault(
        "wrong-type",
        lambda s: {"kind": "wrong_type", "field": WRONG_TYPE[s][0], "value": WRONG_TYPE[s][1]},
        "UPSTREAM_BAD_RESPONSE",
    ),
    Fault("enum-value", lambda s: {"kind": "enum_value", "field": "status", "value": UNSEEN}, None),
    Fault("latency", lambda s: {"kind": "latency", "latency_ms": 50}, None),
    # ClubCollect's index forgets an invoice answered 404; the next case's first read
    # of it (by id) puts it back.
    Fault("status-404", lambda s: {"status": 404, "body": INJECTED}, "NOT_FOUND"),
]

INVOICE = "id source number status statusRaw client { id name }"
NODES = (
    """query($fitnessforce: ID!, $timetap: ID!, $clubcollect: ID!, $tight: ID!) {
  fitnessforce: invoice(id: $fitnessforce) { ...I }
  timetap: invoice(id: $timetap) { ...I }
  clubcollect: invoice(id: $clubcollect) { ...I }
  tight: invoice(id: $tight) { ...I }
}
fragment I on Invoice { %s }"""
    % INVOICE
)
# A failing record fails its non-null fields and, through them, the whole list: the
# lists ask only for fields that may be null, except where status is the point.
LIST = "query($s: [Source!]) { invoices(first: %d, source: $s) { nodes { %s } } }"
ROW = "id source number client { id name }"


def lists_of(sources: list[str]) -> str:
    """One document with each source's invoice list under the source's name."""
    fields = " ".join(
        f"{s}: invoices(first: 5, source: [{ENUM[s]}]) {{ nodes {{ {ROW} }} }}" for s in sources
    )
    return "{ %s }" % fields


@dataclass
class Graph:
    server: GraphServer
    ids: dict[str, str]  # an invoice with a client, per source

    async def post(self, query: str, variables: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """The raw text and decoded body of a GraphQL answer, which must be HTTP 200."""
        payload = {"query": query, "variables": variables}
        async with self.server.http.post(self.server.url + "/graphql", json=payload) as resp:
            text = await resp.text()
            assert resp.status == 200, text
            body: dict[str, Any] = await resp.json()
        return text, body

    async def fault(self, source: str, spec: dict[str, Any]) -> None:
        url = self.server.sandbox.urls[source] + "/__sandbox/faults"
        async with self.server.http.post(url, json=spec) as resp:
            assert resp.status == 204, await resp.text()

    async def clear_faults(self) -> None:
        for url in self.server.sandbox.urls.values():
            async with self.server.http.delete(url + "/__sandbox/faults") as resp:
                assert resp.status == 204


@pytest.fixture(scope="module")
async def graph(sandbox: RunningSandbox) -> AsyncIterator[Graph]:
    # One server for the module: starting one per case costs more than the case.
    # Breakers never open here (each case must show its own fault, not an open
    # breaker); calls fail fast.
    settings = Settings(
        sources=sandbox.source_settings(),
        mode="sandbox",  # anonymous callers, as over the embedded sandbox
        read_timeout_s=0.5,
        request_deadline_s=3,
        retries=1,
        retry_backoff_s=0.01,
        retry_max_delay_s=0.2,
        breaker_failures=1000,
    )
    server, task, url = await serve(create_app(settings))
    try:
        async with aiohttp.ClientSession() as http:
            graph = Graph(GraphServer(url, sandbox, http), {})
            for source in SOURCES:
                # Also lets the ClubCollect index finish its first crawl, and the
                # connectors learn their tenants and tokens, before any fault.
                data = await graph.server.data(
                    LIST % (10, "id client { id }"), {"s": [ENUM[source]]}
                )
                nodes = data["invoices"]["nodes"]
                graph.ids[source] = next(n["id"] for n in nodes if n["client"] is not None)
            yield graph
    finally:
        server.should_exit = True
        await task


def _secrets() -> list[str]:
    keys = [k for pair in TIMETAP_DEV.keys for k in (pair.api_key, pair.private_key)]
    return [
        FITNESSFORCE_DEV.password,
        TIGHT_DEV.client_secret,
        CLUBCOLLECT_DEV.api_key,
        *keys,
    ]


def _assert_nothing_leaks(text: str, sandbox: RunningSandbox) -> None:
    forbidden = [
        "127.0.0.1",
        "localhost",
        "http://",
        "https://",
        "Traceback",
        'File "',
        "Bearer",
        "access_token",
        "Authorization",
        INJECTED["error"],
        INJECTED["detail"],
        "<html>",
        "did not map",
        "missing field",
        "Error:",
        *UPSTREAM_FIELDS,
        *_secrets(),
        *(":" + url.rsplit(":", 1)[1] for url in sandbox.urls.values()),  # the ports
    ]
    leaked = [f for f in forbidden if f in text]
    assert not leaked, f"{leaked} in {text}"


def _assert_coded(body: dict[str, Any], source: str, code: str | None) -> None:
    """Every error names the fault's code and source, at a path."""
    for error in body.get("errors", []):
        assert error.get("path"), error
        ext = error.get("extensions", {})
        assert ext.get("code") == code, error
        if code == "NOT_FOUND" and "source" not in ext:
            continue  # the graph's own not-found: an entity absent upstream
        assert ext.get("source") == source, error


def _assert_unseen_status(invoice: dict[str, Any]) -> None:
    assert invoice["status"] == "UNKNOWN", invoice
    assert UNSEEN in invoice["statusRaw"], invoice


@pytest.mark.parametrize("fault", FAULTS, ids=str)
@pytest.mark.parametrize("source", SOURCES)
async def test_a_fault_in_one_source_fails_only_that_source(
    graph: Graph, source: str, fault: Fault
) -> None:
    healthy = [s for s in SOURCES if s != source]
    enum = fault.name == "enum-value"
    # Every source answers before the fault: no earlier case leaks into this one, and
    # every connector holds a live token (a hang while re-authenticating is its own case).
    _, before = await graph.post(NODES, graph.ids)
    assert "errors" not in before, before
    assert all(before["data"].values()), before
    await graph.fault(source, {"path": "^/", "times": None, **fault.spec(source)})
    try:
        (nodes_text, nodes), (list_text, faulted), (rest_text, rest) = await asyncio.gather(
            graph.post(NODES, graph.ids),
            graph.post(LIST % (5, INVOICE if enum else ROW), {"s": [ENUM[source]]}),
            graph.post(lists_of(healthy), {}),
        )
    finally:
        await graph.clear_faults()

    for text in (nodes_text, list_text, rest_text):
        _assert_nothing_leaks(text, graph.server.sandbox)
    for body in (nodes, faulted, rest):
        _assert_coded(body, source, fault.code)

    # Healthy sources answer in full, in the same response as the faulted one.
    for other in healthy:
        invoice = nodes["data"][other]
        assert invoice is not None, nodes
        assert invoice["source"] == ENUM[other], invoice
        assert invoice["status"] != "UNKNOWN", invoice
        assert invoice["client"]["name"], invoice
    assert not [e for e in nodes.get("errors", []) if e["path"][0] != source], nodes
    assert "errors" not in rest, rest
    for other in healthy:
        rows = rest["data"][other]["nodes"]
        assert rows, rest
        assert all(r["source"] == ENUM[other] for r in rows), rows
        assert any(r["client"] and r["client"]["name"] for r in rows), rows

    mine = nodes["data"][source]
    if fault.code is None:
        # Slow, or drifted to a value never seen: data, with no error.
        assert "errors" not in nodes, nodes
        assert "errors" not in faulted, faulted
        assert mine is not None, nodes
        assert mine["client"] is not None, mine
        listed = faulted["data"]["invoices"]["nodes"]
        assert listed, faulted
        assert all(r["source"] == ENUM[source] for r in listed), listed
        if enum:
            for invoice in (mine, *listed):
                _assert_unseen_status(invoice)
        return
    if fault.code == "NOT_FOUND":
        # Gone upstream: a null invoice, and lists without it (or NOT_FOUND errors).
        assert mine is None, nodes
        return
    # The faulted source's invoice is missing something, and says why.
    assert mine is None or mine["number"] is None or mine["client"] is None, nodes
    assert [e for e in nodes["errors"] if e["path"][0] == source], nodes
    assert faulted.get("errors"), faulted


async def test_one_drifted_record_fails_alone(graph: Graph) -> None:
    """In a list, one invoice's amount changes type and another's status is one never
    seen: every row stays, the drifted one fails only its own fields (and alone is read
    again, by key), and the unseen status is UNKNOWN beside its raw value."""
    query = LIST % (5, ROW)
    rows = (await graph.server.data(query, {"s": ["FITNESSFORCE"]}))["invoices"]["nodes"]
    drifted, unseen = rows[1]["id"], rows[3]["id"]
    state = graph.server.sandbox.apps["fitnessforce"][FITNESSFORCE_STATE]
    stored = {g: state.invoices[int(ids.decode(g).id.split("/")[1])] for g in (drifted, unseen)}
    saved = {g: dict(invoice) for g, invoice in stored.items()}
    stored[drifted]["net_amount"] = "lots"
    stored[unseen]["status"] = "Refinanced"
    await graph.server.clear_upstream_requests()
    try:
        listed_text, listed = await graph.post(query, {"s": ["FITNESSFORCE"]})
        requests = await graph.server.upstream_requests()
        _, looked_up = await graph.post(
            "query($id: ID!) { invoice(id: $id) { status statusRaw } }", {"id": unseen}
        )
    finally:
        for g, invoice in stored.items():
            invoice.clear()
            invoice.update(saved[g])

    _assert_nothing_leaks(listed_text, graph.server.sandbox)
    expected = [dict(r) for r in rows]
    expected[1].update(number=None, client=None)
    assert listed["data"]["invoices"]["nodes"] == expected
    ext = {"code": "UPSTREAM_BAD_RESPONSE", "source": "fitnessforce"}
    assert sorted((e["path"][-1], e["extensions"] == ext) for e in listed["errors"]) == [
        ("client", True),
        ("number", True),
    ]
    assert all(e["path"][:3] == ["invoices", "nodes", 1] for e in listed["errors"])
    key = ids.decode(drifted)
    client_id, invoice_id = key.id.split("/")
    by_key = f"/tenant/{key.tenant}/clients/{client_id}/invoices/{invoice_id}"
    invoice_reads = [r["path"] for r in requests if "/invoices/" in r["path"]]
    assert invoice_reads == [by_key]
    assert looked_up == {"data": {"invoice": {"status": "UNKNOWN", "statusRaw": "Refinanced"}}}
