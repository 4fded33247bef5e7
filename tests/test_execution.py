"""The compiled executor answers exactly as graphql-core's executor does.

Two servers run over the same sandbox: ``graph`` (compiled execution, the default) and
one with ``CLUBGRAPH_COMPILED_EXECUTION`` off. Every query of the corpus goes to both
over HTTP; data must be equal, and errors equal up to their order (the GraphQL
specification does not order them). The corpus covers the workloads, aliases,
fragments on interfaces, ``__typename``, ``@skip``/``@include`` (literal and by
variable), argument errors, not-found entities in nullable and non-null positions, a
failing source (partial data), and what the compiled executor hands to graphql-core
(introspection, mutations' validation, bad variables).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from clubgraph import ids, workloads
from clubgraph.app import create_app
from clubgraph.domain import EntityType, Key, Source
from clubgraph.sandbox.runner import RunningSandbox
from clubgraph.schema import build_schema
from clubgraph.schema.execution import Operation, Unsupported
from clubgraph.settings import Settings
from support import GraphServer, serve

MISSING_INVOICE = ids.encode(Key(EntityType.INVOICE, Source.TIGHT, "1", "999999999"))
MISSING_CLIENT = ids.encode(Key(EntityType.CLIENT, Source.FITNESSFORCE, "101", "999999"))


@pytest.fixture(scope="module")
async def standard(sandbox: RunningSandbox) -> AsyncIterator[GraphServer]:
    settings = Settings(
        sources=sandbox.source_settings(),
        trace_upstream=True,
        max_page_size=500,
        compiled_execution=False,
        mode="sandbox",  # anonymous callers, as over the embedded sandbox
    )
    server, task, url = await serve(create_app(settings))
    async with aiohttp.ClientSession() as http:
        graph = GraphServer(url, sandbox, http)
        await graph.data("{ invoices(first: 1, source: [CLUBCOLLECT]) { edges { cursor } } }")
        yield graph
    server.should_exit = True
    await task


def _errors(body: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (
            repr(e.get("path")),
            e["message"],
            repr(e.get("locations")),
            repr(sorted((e.get("extensions") or {}).items())),
        )
        for e in body.get("errors") or []
    )


async def _same(
    graph: GraphServer,
    standard: GraphServer,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    fault: dict[str, Any] | None = None,
    fault_source: str | None = None,
) -> dict[str, Any]:
    answers = []
    for server in (graph, standard):
        if fault is not None:
            assert fault_source is not None
            url = graph.sandbox.urls[fault_source] + "/__sandbox/faults"
            async with graph.http.post(url, json=fault) as resp:
                assert resp.status == 204
        try:
            answers.append(await server.query(query, variables))
        finally:
            if fault is not None:
                assert fault_source is not None
                url = graph.sandbox.urls[fault_source] + "/__sandbox/faults"
                async with graph.http.delete(url) as resp:
                    assert resp.status == 204
    compiled, reference = answers
    assert compiled.get("data") == reference.get("data")
    assert _errors(compiled) == _errors(reference)
    return compiled


async def test_workloads_answer_the_same(graph: GraphServer, standard: GraphServer) -> None:
    for name, variables in (("W1", {"first": 30}), ("W2", {"first": 120}), ("W0", {})):
        body = await _same(graph, standard, workloads.load(name), variables)
        if name != "W0":  # W0 reads the benchmark tenant, absent here: an error both ways
            assert "errors" not in body
    first = await graph.data("{ clients(first: 3) { nodes { id } } }")
    for node in first["clients"]["nodes"]:
        body = await _same(graph, standard, workloads.load("W3"), {"clientId": node["id"]})
        assert "errors" not in body


async def test_selection_features_answer_the_same(
    graph: GraphServer, standard: GraphServer
) -> None:
    data = await graph.data(
        "{ invoices(first: 4) { nodes { id client { id } items { nodes { id } } } } }"
    )
    invoice_ids = [n["id"] for n in data["invoices"]["nodes"]]
    client_id = data["invoices"]["nodes"][0]["client"]["id"]
    item_id = data["invoices"]["nodes"][0]["items"]["nodes"][0]["id"]
    query = """
    fragment Money on Money { amount currency }
    fragment Entity on Node { __typename id ... on Invoice { number total { ...Money } } }
    query Mixed($ids: [ID!]!, $client: ID!, $item: ID!, $withLines: Boolean!, $skipClient: Boolean = false) {
      __typename
      nodes(ids: $ids) { ...Entity ... on Client { name } }
      one: node(id: $client) { ...Entity ... on Client { email person { email } } }
      line: invoiceItem(id: $item) { id description invoice { id } }
      invoices(first: 5, orderBy: {field: TOTAL, direction: DESC}) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges {
          cursor
          node {
            a: id
            b: id
            status @include(if: true)
            number @skip(if: true)
            items @include(if: $withLines) { nodes { __typename position total { ...Money } } }
            client @skip(if: $skipClient) { id name subscriptions { totalCount } }
          }
        }
      }
    }
    """
    variables = {"ids": [*invoice_ids, client_id], "client": client_id, "item": item_id}
    for flags in ({"withLines": True}, {"withLines": False, "skipClient": True}):
        body = await _same(graph, standard, query, {**variables, **flags})
        assert "errors" not in body


async def test_errors_and_null_propagation_answer_the_same(
    graph: GraphServer, standard: GraphServer
) -> None:
    queries: list[tuple[str, dict[str, Any]]] = [
        # a missing entity in a nullable position, and in lists
        ("query($id: ID!) { invoice(id: $id) { id number } }", {"id": MISSING_INVOICE}),
        (
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            {"ids": [MISSING_INVOICE, MISSING_CLIENT]},
        ),
        # a non-null field of a missing entity: the error nulls the parent
        ("query($id: ID!) { client(id: $id) { id name email } }", {"id": MISSING_CLIENT}),
        ("query($id: ID!) { node(id: $id) { ... on Client { name } } }", {"id": MISSING_CLIENT}),
        # argument errors raised by resolvers
        ("{ invoices(first: 501) { nodes { id } } }", {}),
        ("{ invoices(first: 2, last: 2) { nodes { id } } }", {}),
        ('{ invoices(first: 2, after: "not-a-cursor") { nodes { id } } }', {}),
        ('{ invoice(id: "garbage") { id } }', {}),
        # variables that fail coercion (graphql-core reports them)
        ("query($n: Int!) { invoices(first: $n) { nodes { id } } }", {"n": "many"}),
        ("query($n: Int!) { invoices(first: $n) { nodes { id } } }", {}),
        # introspection and a mixed query run on graphql-core
        ("{ __schema { queryType { name } } }", {}),
        (
            '{ __type(name: "Invoice") { name fields { name } } invoices(first: 1) { totalCount } }',
            {},
        ),
    ]
    for query, variables in queries:
        await _same(graph, standard, query, variables)


async def test_a_failing_source_fails_the_same_fields(
    graph: GraphServer, standard: GraphServer
) -> None:
    query = """
    { invoices(first: 40, source: [FITNESSFORCE, TIGHT]) {
        nodes { id source client { id name subscriptions { nodes { id planName } } } }
    } }
    """
    # Tight's client reads fail: those clients' fields are null with errors; the rest stays.
    body = await _same(
        graph,
        standard,
        query,
        fault={"path": "/clients", "status": 503, "times": 50},
        fault_source="tight",
    )
    assert body["errors"]
    assert body["data"]["invoices"]["nodes"]


def test_what_the_compiled_executor_leaves_to_graphql_core() -> None:
    from graphql import parse

    schema = build_schema()._schema  # type: ignore[attr-defined]
    for document in (
        "mutation { __typename }",
        "{ __schema { queryType { name } } }",
        "query A { __typename } query B { __typename }",
    ):
        with pytest.raises(Unsupported):
            Operation(schema, parse(document), None)
    assert Operation(schema, parse("query A { __typename }"), "A").static
    assert not Operation(
        schema, parse("query A($x: Boolean!) { __typename @include(if: $x) }"), "A"
    ).static


async def test_missing_items_of_lists_of_objects_answer_the_same(
    graph: GraphServer, standard: GraphServer
) -> None:
    # Lists of objects (completed in place by the compiled executor) with missing items
    # among them, lists of objects inside their items, and a missing entity by key.
    tight = await graph.data("{ invoices(first: 2, source: [TIGHT]) { nodes { id } } }")
    other = await graph.data("{ invoices(first: 1, source: [TIMETAP]) { nodes { id } } }")
    ids_ = [
        tight["invoices"]["nodes"][0]["id"],
        MISSING_INVOICE,
        other["invoices"]["nodes"][0]["id"],
        MISSING_CLIENT,
        tight["invoices"]["nodes"][1]["id"],
    ]
    query = """
    query($ids: [ID!]!, $client: ID!) {
      nodes(ids: $ids) {
        id
        ... on Invoice { number total { amount } items { nodes { id total { amount } } } }
        ... on Client { name email }
      }
      client(id: $client) { id name subscriptions { nodes { id } } }
    }
    """
    body = await _same(graph, standard, query, {"ids": ids_, "client": MISSING_CLIENT})
    nodes = body["data"]["nodes"]
    assert [n is None for n in nodes] == [False, True, False, True, False]
    assert nodes[0]["items"]["nodes"]
    assert nodes[2]["items"]["nodes"]
    assert body["data"]["client"] is None
    assert "errors" not in body  # missing entities are nulls, not errors
