"""clubgraph as an Apollo Federation v2 subgraph: its SDL with @key, and ``_entities``
resolved through the loaders, so that a gateway's entity fetch is one batch upstream."""

from __future__ import annotations

from collections import Counter

from clubgraph import ids
from support import GraphServer

ENTITIES = """
query($reps: [_Any!]!) {
  _entities(representations: $reps) {
    __typename
    ... on Invoice { id number client { id name } }
    ... on Client { id name }
  }
}
"""


async def test_the_subgraph_sdl_declares_the_entity_keys(graph: GraphServer) -> None:
    data = await graph.data("{ _service { sdl } }")
    sdl = data["_service"]["sdl"]
    assert "federation/v2" in sdl
    for entity in ("Client", "Invoice", "InvoiceItem", "Subscription"):
        assert f'type {entity} implements Node @key(fields: "id") ' in sdl
    assert '@key(fields: "source tenantId sourceId")' in sdl


async def test_entities_by_either_key_are_one_batch_upstream(graph: GraphServer) -> None:
    found = await graph.data(
        "{ invoices(first: 12, source: [FITNESSFORCE]) { nodes { id number sourceId "
        "tenantId client { id name } } } }"
    )
    nodes = found["invoices"]["nodes"]
    reps: list[dict[str, object]] = []
    for i, node in enumerate(nodes):
        if i % 2:
            reps.append({"__typename": "Invoice", "id": node["id"]})
        else:
            reps.append(
                {
                    "__typename": "Invoice",
                    "source": "FITNESSFORCE",
                    "tenantId": node["tenantId"],
                    "sourceId": node["sourceId"],
                }
            )
    reps.append({"__typename": "Client", "id": nodes[0]["client"]["id"]})
    await graph.clear_upstream_requests()
    data = await graph.data(ENTITIES, {"reps": reps})
    entities = data["_entities"]
    assert [e["id"] for e in entities[:-1]] == [n["id"] for n in nodes]
    assert [e["number"] for e in entities[:-1]] == [n["number"] for n in nodes]
    assert entities[-1] == {
        "__typename": "Client",
        "id": nodes[0]["client"]["id"],
        "name": nodes[0]["client"]["name"],
    }
    requests = await graph.upstream_requests()
    calls = Counter((r["path"], r["query"]) for r in requests)
    assert all(n == 1 for n in calls.values()), calls  # nothing asked twice
    # Twelve invoices of one tenant and their clients: reads by key, batched per
    # resource, never one request per representation and field.
    assert len(requests) <= 2 * len({ids.decode(n["client"]["id"]) for n in nodes}) + 12


async def test_an_unknown_or_malformed_representation_fails_alone(graph: GraphServer) -> None:
    found = await graph.data("{ invoices(first: 1, source: [TIGHT]) { nodes { id } } }")
    good = found["invoices"]["nodes"][0]["id"]
    body = await graph.query(
        ENTITIES,
        {
            "reps": [
                {"__typename": "Invoice", "id": good},
                {"__typename": "Invoice", "id": "not-an-id"},
                {"__typename": "Invoice", "source": "TIGHT"},
            ]
        },
    )
    assert body["data"]["_entities"][0]["id"] == good
    assert body["data"]["_entities"][1:] == [None, None]
    assert {tuple(e["path"]) for e in body["errors"]} == {("_entities", 1), ("_entities", 2)}
