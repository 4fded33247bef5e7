"""clubgraph in a supergraph: composed with a second subgraph by Apollo's composition
library and served by Apollo Gateway (both from npm, tests/node), queries that cross the
two subgraphs in either direction answer what clubgraph answers on its own."""

from __future__ import annotations

import json

from support import GraphServer, run_node


async def test_queries_cross_both_subgraphs_through_the_gateway(graph: GraphServer) -> None:
    out = await run_node(
        "supergraph.mjs", graph.url + "/graphql", needs="@apollo/gateway", limit_s=180
    )
    report = json.loads(out.strip().splitlines()[-1])
    assert "compositionErrors" not in report, report
    # From the CRM subgraph's list to clubgraph's fields (an entity fetch of Clients).
    top = report["fromCrm"]["data"]["topClients"]
    assert [c["id"] for c in top] == report["topIds"]
    direct = await graph.data(
        "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Client { id name email } } }",
        {"ids": report["topIds"]},
    )
    assert [{"id": c["id"], "name": c["name"], "email": c["email"]} for c in top] == direct["nodes"]
    assert [c["loyaltyTier"] for c in top] == [report["tiers"][i] for i in report["topIds"]]
    # From clubgraph's invoices to the CRM's field on their clients.
    invoices = report["fromClubgraph"]["data"]["invoices"]["nodes"]
    mine = await graph.data(
        "{ invoices(first: 4, source: [FITNESSFORCE]) { nodes { number client { id name } } } }"
    )
    assert [
        {"number": i["number"], "client": {"id": i["client"]["id"], "name": i["client"]["name"]}}
        for i in invoices
    ] == mine["invoices"]["nodes"]
    assert all(i["client"]["loyaltyTier"] in {"bronze", "silver", "gold"} for i in invoices)
    assert "errors" not in report["fromCrm"]
    assert "errors" not in report["fromClubgraph"]
