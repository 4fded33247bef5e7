"""Query limits: each refused with its code and value before any upstream request; the
cost model's figures; inputs out of bounds; and what production mode hides."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from graphql import get_introspection_query, parse

from clubgraph import ids
from clubgraph.domain import EntityType, Key, Source
from clubgraph.identity import Role, mint
from clubgraph.sandbox.runner import RunningSandbox
from clubgraph.schema import build_schema
from clubgraph.schema.limits import LIST_ESTIMATE, _Depth, _fragments, estimate_cost
from clubgraph.settings import Settings
from support import GraphServer, graph_server

SECRET = "a-development-secret-of-at-least-32-bytes"
WORKLOADS = Path(__file__).resolve().parents[1] / "src" / "clubgraph" / "workloads"
CLIENT = ids.encode(Key(EntityType.CLIENT, Source.TIGHT, "7001", "1"))


def _settings(sandbox: RunningSandbox, **overrides: Any) -> Settings:
    sources = sandbox.source_settings()
    return Settings(sources=sources, **{"mode": "sandbox", **overrides})


@pytest.fixture(scope="module")
async def limited(sandbox: RunningSandbox) -> AsyncIterator[GraphServer]:
    """A server with small limits, so that each can be met and passed by a small query."""
    settings = _settings(
        sandbox, max_depth=6, max_aliases=3, max_tokens=200, max_cost=500, max_page_size=100
    )
    async with graph_server(settings, sandbox) as graph:
        # The ClubCollect index's first crawl ends before requests are counted.
        await graph.data("{ invoices(first: 1, source: [CLUBCOLLECT]) { edges { cursor } } }")
        yield graph


STAFF = {"Authorization": "Bearer " + mint(SECRET, role=Role.STAFF, subject="ops", tenants=["*"])}


@pytest.fixture(scope="module")
async def production(sandbox: RunningSandbox) -> AsyncIterator[GraphServer]:
    settings = _settings(sandbox, mode="production", jwt_secret=SECRET)
    async with graph_server(settings, sandbox) as graph:
        await _post(
            graph,
            {"query": "{ invoices(first: 1, source: [CLUBCOLLECT]) { totalCount } }"},
            **STAFF,
        )
        yield graph


async def _post(graph: GraphServer, payload: dict[str, Any], **headers: str) -> dict[str, Any]:
    async with graph.http.post(graph.url + "/graphql", json=payload, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body


async def _refused(
    graph: GraphServer,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The one error of a request refused before any upstream request."""
    await graph.clear_upstream_requests()
    body = await _post(graph, {"query": query, "variables": variables or {}}, **(headers or {}))
    assert body.get("data") is None, body
    assert await graph.upstream_requests() == []
    [error] = body["errors"]
    assert isinstance(error, dict)
    return error


NEST_6 = "{ invoices(first: 1) { nodes { client { invoices(first: 1) { nodes { id } } } } } }"
NEST_7 = (
    "{ invoices(first: 1) { nodes { client { invoices(first: 1) { nodes { client { id } } } } } } }"
)
NEST_7_IN_FRAGMENTS = """
query { invoices(first: 1) { nodes { ...Billed } } }
fragment Billed on Invoice { client { ...Client } }
fragment Client on Client { invoices(first: 1) { nodes { client { id } } } }
"""


@pytest.mark.parametrize(
    ("query", "variables", "code", "said"),
    [
        (NEST_7, None, "QUERY_TOO_DEEP", "7 levels deep, above the maximum depth of 6"),
        (NEST_7_IN_FRAGMENTS, None, "QUERY_TOO_DEEP", "maximum depth of 6"),
        (
            "{ a: sources { name } b: sources { name } c: sources { name } d: sources { name } }",
            None,
            "TOO_MANY_ALIASES",
            "4 aliases, above the maximum of 3",
        ),
        (
            "{ sources { ...S } again: sources { ...S } } "
            "fragment S on SourceInfo { n1: name n2: name }",
            None,
            "TOO_MANY_ALIASES",
            "5 aliases, above the maximum of 3",
        ),
        ("{ sources { " + "name " * 250 + "} }", None, "TOO_MANY_TOKENS", "200 tokens"),
        ("# a comment\n" * 300 + "{ sources { name } }", None, "TOO_MANY_TOKENS", "200 tokens"),
        (
            "{ invoices(first: 100) { nodes { id items(first: 10) { nodes { id } } } } }",
            None,
            "QUERY_TOO_COSTLY",
            "estimated cost is 1100, above the maximum of 500",
        ),
        (
            "query($n: Int = 100) { invoices(first: $n) { nodes { "
            "client { invoices(first: 4) { totalCount } } } } }",
            None,
            "QUERY_TOO_COSTLY",
            "estimated cost is 600",
        ),
        (
            "query($n: Int) { invoices(last: $n) { nodes { items { nodes { id } } } } }",
            {"n": 20},
            "QUERY_TOO_COSTLY",
            # 20 invoices, then 20 x the default page of 50 lines.
            "estimated cost is 1020",
        ),
        (
            "query { ...Q } fragment Q on Query { clients(first: 100) { nodes { ...C } } } "
            "fragment C on Client { invoices(first: 5) { nodes { id } } }",
            None,
            "QUERY_TOO_COSTLY",
            "estimated cost is 600",
        ),
        (
            "query($id: ID!) { node(id: $id) { ... on Client { invoices(first: 100) { "
            "nodes { items(first: 5) { nodes { id } } } } } } }",
            {"id": CLIENT},
            "QUERY_TOO_COSTLY",
            "estimated cost is 601",
        ),
        (
            "{ a: clients(first: 1) { totalCount } b: invoices(first: 101) { totalCount } }",
            None,
            "PAGE_SIZE_EXCEEDED",
            "`first` is 101, above the maximum page size of 100",
        ),
        (
            "query($n: Int) { clients(first: 1) { nodes { invoices(last: $n) { totalCount } } } }",
            {"n": 1000},
            "PAGE_SIZE_EXCEEDED",
            "`last` is 1000",
        ),
        (
            "{ clients(first: 1) { totalCount } invoices(first: -1) { totalCount } }",
            None,
            "BAD_USER_INPUT",
            "`first` must not be negative",
        ),
    ],
)
async def test_each_limit_is_refused_with_its_code_before_any_upstream_request(
    limited: GraphServer,
    query: str,
    variables: dict[str, Any] | None,
    code: str,
    said: str,
) -> None:
    error = await _refused(limited, query, variables)
    assert error["extensions"]["code"] == code
    assert said in error["message"]


async def test_the_limit_values_are_in_the_errors(limited: GraphServer) -> None:
    deep = await _refused(limited, NEST_7)
    assert deep["extensions"]["maximumDepth"] == 6
    costly = await _refused(limited, "{ clients(first: 100) { nodes { profiles { id } } } }")
    assert costly["extensions"] == {
        "code": "QUERY_TOO_COSTLY",
        "cost": 100 + 100 * LIST_ESTIMATE,
        "maximumCost": 500,
    }
    tokens = await _refused(limited, "{ sources { " + "name " * 250 + "} }")
    assert tokens["extensions"] == {"code": "TOO_MANY_TOKENS", "maximumTokens": 200}


async def test_operations_within_the_limits_run(limited: GraphServer) -> None:
    data = await limited.data(NEST_6)
    assert data["invoices"]["nodes"]
    data = await limited.data("{ a: sources { name } b: sources { name } c: sources { name } }")
    assert len(data["c"]) == 4
    # 20 + 20 clients + 20 x 5 lines: 140.
    data = await limited.data(
        "{ invoices(first: 20) { nodes { client { name } items(first: 5) { nodes { id } } } } }"
    )
    assert len(data["invoices"]["nodes"]) == 20
    # The same query with a page the variables make small enough.
    query = (
        "query($n: Int = 100) { invoices(first: $n) { nodes { "
        "client { invoices(first: 4) { totalCount } } } } }"
    )
    assert len((await limited.data(query, {"n": 10}))["invoices"]["nodes"]) == 10


def _workload(name: str) -> str:
    return next(WORKLOADS.glob(f"{name.lower()}_*.graphql")).read_text()


def test_the_cost_model_on_the_canonical_workloads() -> None:
    schema = build_schema()._schema  # type: ignore[attr-defined]
    settings = Settings(max_page_size=500)
    costs = {
        f"{name} {operation or ''}".strip(): estimate_cost(
            schema, parse(_workload(name)), operation, {}, settings
        )
        for name, operation in [
            ("W0", None),
            ("W1", None),
            ("W2", None),
            ("W3", None),
            ("W4", "W4CreateInvoice"),
            ("W4", "W4ReadBack"),
        ]
    }
    # W0: 100 invoices + their clients. W1: 50 invoices, 50 x 50 lines, 50 clients,
    # 50 x 50 subscriptions. W2: 500 invoices, 500 x 50 lines. W3: the client, its person,
    # 10 profiles, 100 invoices, 50 subscriptions. W4: the write, its invoice, 50 lines;
    # then the invoice by ID and its 50 lines.
    assert costs == {
        "W0": 200,
        "W1": 5100,
        "W2": 25_500,
        "W3": 162,
        "W4 W4CreateInvoice": 52,
        "W4 W4ReadBack": 51,
    }
    assert max(costs.values()) <= Settings().max_cost
    for name in ("W0", "W1", "W2", "W3", "W4"):
        document = parse(_workload(name))
        depth = _Depth(_fragments(document))
        for operation in document.definitions:
            assert depth.of(operation.selection_set) <= Settings().max_depth  # type: ignore[attr-defined]


def test_the_cost_of_lists_of_entities_and_writes() -> None:
    schema = build_schema()._schema  # type: ignore[attr-defined]
    settings = Settings()
    nodes = parse('{ nodes(ids: ["a", "b", "c"]) { id ... on Client { person { email } } } }')
    assert estimate_cost(schema, nodes, None, {}, settings) == 3 + 3 * 1
    profiles = parse('{ person(email: "x") { profiles { invoices(first: 2) { totalCount } } } }')
    assert estimate_cost(schema, profiles, None, {}, settings) == 1 + LIST_ESTIMATE * (1 + 2)
    write = parse(
        'mutation { a: voidInvoice(input: {idempotencyKey: "k", invoiceId: "i"}) { clientMutationId } '
        'b: voidInvoice(input: {idempotencyKey: "l", invoiceId: "j"}) { clientMutationId } }'
    )
    assert estimate_cost(schema, write, None, {}, settings) == 2
    typename = parse("{ __typename sources { __typename name } }")
    assert estimate_cost(schema, typename, None, {}, settings) == 0


async def test_fragments_that_multiply_are_measured_once_each() -> None:
    # Each fragment spreads the next twice: expanded, 2^40 selections; walked, 40.
    fragments = " ".join(
        f"fragment F{i} on Client {{ a{i}: name ...F{i + 1} ...F{i + 1} }}" for i in range(40)
    )
    query = (
        f"{{ clients(first: 1) {{ nodes {{ ...F0 }} }} }} {fragments} "
        "fragment F40 on Client { invoices(first: 1) { totalCount } }"
    )
    schema = build_schema()
    context = SimpleNamespace(settings=Settings())
    started = time.perf_counter()
    result = await schema.execute(query, context_value=context)
    assert time.perf_counter() - started < 2
    assert result.errors
    assert {e.extensions["code"] for e in result.errors if e.extensions} == {"TOO_MANY_ALIASES"}
    relaxed = build_schema(settings=Settings(max_aliases=2**50))
    result = await relaxed.execute(query, context_value=context)
    assert result.errors
    [error] = result.errors
    assert error.extensions is not None
    assert error.extensions["code"] == "QUERY_TOO_COSTLY"
    assert error.extensions["cost"] == 1 + 2**40
    # Past 2^53 the cost shown stops there: every JSON reader holds it.
    bomb = " ".join(f"fragment B{i} on Client {{ ...B{i + 1} ...B{i + 1} }}" for i in range(80))
    bomb = f"{{ clients(first: 1) {{ nodes {{ ...B0 }} }} }} {bomb} fragment B80 on Client {{ invoices(first: 1) {{ totalCount }} }}"
    [error] = (await relaxed.execute(bomb, context_value=context)).errors or []
    assert error.extensions == {
        "code": "QUERY_TOO_COSTLY",
        "cost": 2**53 - 1,
        "maximumCost": 50_000,
    }
    assert "at least 9007199254740991" in error.message
    orjson.dumps(error.formatted)


def test_the_introspection_graphiql_sends_fits_the_default_depth() -> None:
    document = parse(get_introspection_query(descriptions=True))
    assert _Depth(_fragments(document)).of(document.definitions[0].selection_set) <= 15  # type: ignore[attr-defined]


BAD_INPUTS = [
    ("quantity", "NaN", "Expected a finite number"),
    ("quantity", "sNaN", "Expected a finite number"),
    ("unitPrice", "Infinity", "Expected a finite number"),
    ("unitPrice", "1e999999", "below 1,000,000,000"),
    ("unitPrice", 1e308, "below 1,000,000,000"),
    ("unitPrice", "12345678901234567890.5", "below 1,000,000,000"),
    ("taxRate", "0.000000001", "At most 8 decimal places"),
    ("discount", "ten", "Expected a finite number"),
    ("discount", True, "Expected a decimal string"),
]


@pytest.mark.parametrize(("field", "value", "said"), BAD_INPUTS)
async def test_amounts_out_of_bounds_are_refused_before_the_write(
    limited: GraphServer, field: str, value: object, said: str
) -> None:
    line: dict[str, Any] = {"description": "Membership", "quantity": "1", "unitPrice": "49.95"}
    line[field] = value
    variables = {
        "i": {
            "idempotencyKey": f"bounds-{field}-{value}",
            "source": "CLUBCOLLECT",
            "tenantId": "cmp_amsterdam_hc",
            "lines": [line],
        }
    }
    error = await _refused(
        limited,
        "mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { userErrors { code } } }",
        variables,
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert f".lines[0].{field}" in error["message"]
    assert said in error["message"]


@pytest.mark.parametrize(
    ("query", "variables", "code", "said"),
    [
        (
            "query($r: DateTimeRange) { invoices(first: 1, issued: $r) { totalCount } }",
            {"r": {"from": "0001-01-01T00:00:00Z"}},
            "BAD_USER_INPUT",
            "Years 1900 to 2999 only",
        ),
        (
            '{ invoices(first: 1, due: {until: "9999-12-31T23:59:59+14:00"}) { totalCount } }',
            None,
            "GRAPHQL_VALIDATION_FAILED",
            "Years 1900 to 2999 only",
        ),
        (
            '{ invoices(first: 1, due: {until: "next tuesday"}) { totalCount } }',
            None,
            "GRAPHQL_VALIDATION_FAILED",
            "cannot represent a DateTime",
        ),
        (
            "mutation($i: FreezeSubscriptionInput!) { freezeSubscription(input: $i) "
            "{ userErrors { code } } }",
            {
                "i": {
                    "idempotencyKey": "f",
                    "subscriptionId": "x",
                    "from": "2026-02-30",
                    "until": "2026-03-01",
                }
            },
            "BAD_USER_INPUT",
            "day is out of range for month",
        ),
        (
            "query($s: [InvoiceStatus!]) { invoices(first: 1, status: $s) { totalCount } }",
            {"s": ["PAIDX"]},
            "BAD_USER_INPUT",
            "Value 'PAIDX' does not exist in 'InvoiceStatus' enum",
        ),
        (
            "{ invoices(first: 1, status: [NOPE]) { totalCount } }",
            None,
            "GRAPHQL_VALIDATION_FAILED",
            "Value 'NOPE' does not exist in 'InvoiceStatus' enum",
        ),
        ("{ sources { name }", None, "GRAPHQL_PARSE_FAILED", "Syntax Error"),
    ],
)
async def test_malformed_inputs_are_clear_errors_before_any_upstream_request(
    limited: GraphServer,
    query: str,
    variables: dict[str, Any] | None,
    code: str,
    said: str,
) -> None:
    error = await _refused(limited, query, variables)
    assert error["extensions"]["code"] == code
    assert said in error["message"]


async def test_invalid_global_ids_are_bad_input(limited: GraphServer) -> None:
    for query in ('{ node(id: "garbage") { id } }', '{ invoice(id: "Q2xpZW50OmZvbw==") { id } }'):
        body = await limited.query(query)
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "is not a valid ID" in error["message"]


async def test_amounts_too_large_for_a_source_are_the_clients_error(
    limited: GraphServer,
) -> None:
    # Each amount fits the Decimal bounds; their product in cents does not fit a JSON integer.
    body = await limited.query(
        "mutation($i: CreateInvoiceInput!) { createInvoice(input: $i) { userErrors { code } } }",
        {
            "i": {
                "idempotencyKey": "too-large-for-cents",
                "source": "CLUBCOLLECT",
                "tenantId": "cmp_amsterdam_hc",
                "number": "CG-TOO-LARGE",
                "recipient": {"firstName": "Ada", "lastName": "Lovelace", "email": "a@b.c"},
                "lines": [{"description": "x", "quantity": "999999999", "unitPrice": "999999999"}],
            }
        },
    )
    [error] = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert error["message"] == "An amount in the request is too large for the source"


# --- production mode ---------------------------------------------------------------


async def test_production_refuses_introspection_before_any_upstream_request(
    production: GraphServer,
) -> None:
    for query in (
        "{ __schema { types { name } } }",
        '{ __type(name: "Invoice") { name } sources { name } }',
        "{ sources { name } ...I } fragment I on Query { __schema { queryType { name } } }",
    ):
        error = await _refused(production, query, headers=STAFF)
        assert error["extensions"]["code"] == "INTROSPECTION_DISABLED"
        assert "Introspection is disabled" in error["message"]
    body = await _post(production, {"query": "{ __typename sources { __typename name } }"}, **STAFF)
    assert body["data"]["__typename"] == "Query"
    assert body["data"]["sources"][0]["__typename"] == "SourceInfo"


async def test_sandbox_mode_answers_introspection(limited: GraphServer) -> None:
    data = await limited.data('{ __type(name: "Invoice") { name } }')
    assert data == {"__type": {"name": "Invoice"}}


MISTAKES: list[tuple[str, dict[str, Any]]] = [
    ("{ sources { nam } }", {}),
    ("{ invoicez { totalCount } }", {}),
    ("{ invoices(frist: 1) { totalCount } }", {}),
    ("{ invoices(first: 1, status: [PAIDD]) { totalCount } }", {}),
    (
        "query($s: [InvoiceStatus!]) { invoices(first: 1, status: $s) { totalCount } }",
        {"s": ["OPNE"]},
    ),
    ("{ invoices(first: 1, orderBy: {feld: TOTAL}) { totalCount } }", {}),
]


@pytest.mark.parametrize(("query", "variables"), MISTAKES)
async def test_production_gives_no_suggestions(
    production: GraphServer, limited: GraphServer, query: str, variables: dict[str, Any]
) -> None:
    shown = await _post(production, {"query": query, "variables": variables}, **STAFF)
    assert shown["errors"], shown
    for error in shown["errors"]:
        assert "Did you mean" not in error["message"]
        assert error["message"].endswith((".", "'"))
    sandbox = await _post(limited, {"query": query, "variables": variables})
    assert any("Did you mean" in e["message"] for e in sandbox["errors"])
