"""GraphQL over HTTP, checked by the graphql-http audit suite (the npm package) against
the live server: every MUST and every SHOULD passes."""

from __future__ import annotations

import json

from clubgraph.app import prefers_graphql_response
from support import GraphServer, run_node


async def test_the_graphql_http_audit_passes(graph: GraphServer) -> None:
    out = await run_node("audit.mjs", graph.url + "/graphql", needs="graphql-http")
    audits = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(audits) > 50
    failed = [a for a in audits if a["status"] != "ok"]
    assert failed == [], failed
    assert any(a["name"].startswith("MUST") for a in audits)
    assert any(a["name"].startswith("SHOULD") for a in audits)


def test_which_clients_get_graphql_response_json() -> None:
    assert prefers_graphql_response("application/graphql-response+json")
    assert prefers_graphql_response("application/graphql-response+json, application/json")
    assert prefers_graphql_response(
        "application/graphql-response+json;charset=utf-8, application/json;q=0.9"
    )
    assert not prefers_graphql_response("application/json")
    assert not prefers_graphql_response(None)
    assert not prefers_graphql_response("*/*")
    assert not prefers_graphql_response("application/json, application/graphql-response+json;q=0.5")
    assert not prefers_graphql_response("application/graphql-response+json;q=0")
    assert not prefers_graphql_response("application/graphql-response+json;q=x")


async def test_a_request_error_is_400_without_data_for_graphql_response_json(
    graph: GraphServer,
) -> None:
    headers = {"Accept": "application/graphql-response+json"}
    cases = [
        ({"query": "{ invoices(first: 1) { nodes { id }"}, 400),  # does not parse
        ({"query": "{ noSuchField }"}, 400),  # does not validate
        ({"query": "query($n: Int!) { invoices(first: $n) { totalCount } }"}, 400),
        ({"query": "{ __typename }"}, 200),
    ]
    for payload, status in cases:
        async with graph.http.post(graph.url + "/graphql", json=payload, headers=headers) as r:
            body = await r.json(content_type=None)
            assert r.status == status, body
            assert r.headers["content-type"].startswith("application/graphql-response+json")
            if status == 400:
                assert "data" not in body
                assert body["errors"]
    # A field error during execution is a response, not a request error: 200 with data.
    async with graph.http.post(
        graph.url + "/graphql",
        json={"query": '{ invoice(id: "garbage") { id } }'},
        headers=headers,
    ) as r:
        body = await r.json(content_type=None)
        assert r.status == 200
        assert "data" in body
    # application/json keeps 200 for every answer.
    async with graph.http.post(graph.url + "/graphql", json={"query": "{ nope }"}) as r:
        assert r.status == 200
        assert r.headers["content-type"].startswith("application/json")
