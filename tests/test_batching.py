"""No N+1, ever: upstream requests are counted at the sandbox servers themselves."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from clubgraph import workloads
from support import GraphServer

W1 = workloads.load("W1")


async def _w1(graph: GraphServer, first: int) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    await graph.clear_upstream_requests()
    body = await graph.query(W1, {"first": first})
    assert "errors" not in body, body.get("errors")
    return body["data"], await graph.upstream_requests(), body["extensions"]["upstream"]


@pytest.mark.parametrize("first", [10, 50])
async def test_w1_makes_no_duplicate_request(graph: GraphServer, first: int) -> None:
    _, requests, _ = await _w1(graph, first)
    calls = Counter(
        (r["source"], r["credential"], r["method"], r["path"], r["query"]) for r in requests
    )
    assert [c for c, n in calls.items() if n > 1] == []


@pytest.mark.parametrize("first", [10, 50])
async def test_w1_requests_no_more_than_the_distinct_resources_it_needs(
    graph: GraphServer, first: int
) -> None:
    data, requests, trace = await _w1(graph, first)
    nodes = [e["node"] for e in data["invoices"]["edges"]]
    assert len(nodes) == first
    by_source = Counter(r["source"] for r in requests)
    # The trace extension counts exactly what the upstreams served.
    assert trace == {"requests": len(requests), "bySource": dict(by_source)}

    clients = {
        src: {n["client"]["id"] for n in nodes if n["source"] == src.upper()}
        for src in ("fitnessforce", "timetap", "clubcollect", "tight")
    }
    invoices = Counter(n["source"].lower() for n in nodes)
    # What each source must be asked, at most, for W1 given its endpoints:
    #  - its list endpoints, one request per stream (source x tenant x listable status),
    #    enough pages for `first` rows;
    #  - FitnessForce: a client read and a subscriptions list per distinct client;
    #  - TimeTap: nothing more (invoices embed their client; it has no subscriptions);
    #  - ClubCollect: one read per invoice (no list endpoint; its index gives ids and clients);
    #  - Tight: a client read and a recurring-plan list per distinct client.
    list_calls = {"fitnessforce": 2, "timetap": 6, "clubcollect": 0, "tight": 1}
    needed = {
        "fitnessforce": list_calls["fitnessforce"] + 2 * len(clients["fitnessforce"]),
        "timetap": list_calls["timetap"],
        "clubcollect": invoices["clubcollect"],
        "tight": list_calls["tight"] + 2 * len(clients["tight"]),
    }
    for source, count in by_source.items():
        assert count <= needed[source], (source, count, needed[source], requests)


async def test_w1_cost_grows_with_distinct_resources_not_with_fields(
    graph: GraphServer,
) -> None:
    _, small, _ = await _w1(graph, 10)
    data, large, _ = await _w1(graph, 50)
    nodes = [e["node"] for e in data["invoices"]["edges"]]
    distinct = len({n["client"]["id"] for n in nodes}) + len(nodes)
    # 50 invoices with ~4 lines, a client and its subscriptions each would be hundreds of
    # requests with N+1; batched they stay within the distinct resources behind them.
    assert len(large) <= distinct + 10
    assert len(small) <= len(large)


async def test_repeated_entities_in_one_request_are_fetched_once(graph: GraphServer) -> None:
    data = await graph.data(
        "{ invoices(first: 30, source: [FITNESSFORCE]) { nodes { id client { id } } } }"
    )
    client_id = data["invoices"]["nodes"][0]["client"]["id"]
    aliases = " ".join(
        f'c{i}: client(id: "{client_id}") {{ name email subscriptions {{ nodes {{ planName }} }} }}'
        for i in range(20)
    )
    await graph.clear_upstream_requests()
    await graph.data(f"{{ {aliases} }}")
    requests = await graph.upstream_requests()
    assert len(requests) == 2, requests  # the client, and its subscriptions list


async def test_embedded_lines_are_never_fetched_again(graph: GraphServer) -> None:
    await graph.clear_upstream_requests()
    query = "{ invoices(first: 40, source: [TIMETAP, TIGHT]) { nodes { items { nodes { id total { amount } } } } } }"
    data = await graph.data(query)
    assert all(n["items"]["nodes"] for n in data["invoices"]["nodes"])
    paths = [r["path"] for r in await graph.upstream_requests()]
    # Only list calls: TimeTap's three status lists per business and Tight's invoice list.
    assert len(paths) <= 7, paths


async def test_w3_costs_one_request_per_resource_it_needs(graph: GraphServer) -> None:
    first = await graph.data("{ clients(first: 1, source: [FITNESSFORCE]) { nodes { id } } }")
    client_id = first["clients"]["nodes"][0]["id"]
    variables = {"clientId": client_id}
    await graph.data(workloads.load("W3"), variables)  # tokens and tenant lists
    await graph.clear_upstream_requests()
    data = await graph.data(workloads.load("W3"), variables)
    requests = await graph.upstream_requests()
    person = data["client"]["person"]
    profiles = Counter(p["source"] for p in person["profiles"])
    clubcollect = sum(
        1 for e in person["invoices"]["edges"] if e["node"]["source"] == "CLUBCOLLECT"
    )
    paths = Counter((r["source"], r["path"]) for r in requests)
    # The email lookup: FitnessForce searches all its tenants in one call, TimeTap asks
    # each business, Tight its client list.
    assert paths[("fitnessforce", "/clients/search")] == 1
    assert sum(n for (s, p), n in paths.items() if s == "timetap" and "clientList" in p) == 2
    # 1 client read + lookups (1 + 2 + 1) + per profile what it is billed and subscribed.
    expected = (
        1
        + 4
        + 2 * profiles["FITNESSFORCE"]
        + profiles["TIMETAP"]
        + 2 * profiles["TIGHT"]
        + clubcollect
    )
    assert len(requests) == expected, paths
