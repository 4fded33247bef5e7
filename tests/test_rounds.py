"""Dependent upstream round trips: a page of invoices costs two, not three.

The lists go out at once; the invoices ClubCollect's index names by key only, and the
clients, plans and lines the page shows, go out together once the lists are back. The
sandbox here answers each request after a fixed latency, and its request log says when
each request arrived: every request must arrive in one of two waves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from clubgraph import workloads
from clubgraph.app import create_app
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox
from clubgraph.settings import Settings
from support import GraphServer, serve

LATENCY_MS = 80


@pytest.fixture(scope="module")
async def slow_graph() -> AsyncIterator[GraphServer]:
    sandbox: RunningSandbox = await start_sandbox(port_base=None, latency_ms=LATENCY_MS)
    settings = Settings(
        mode="sandbox",
        sources=sandbox.source_settings(),
    )
    server, task, url = await serve(create_app(settings))
    try:
        async with aiohttp.ClientSession() as http:
            yield GraphServer(url, sandbox, http)
    finally:
        server.should_exit = True
        await task
        await sandbox.stop()


async def test_a_dashboard_page_costs_two_round_trips(slow_graph: GraphServer) -> None:
    graph = slow_graph
    w1 = workloads.load("W1")
    await graph.data(w1, {"first": 50})  # tokens, tenant lists, ClubCollect's index
    await graph.clear_upstream_requests()
    data = await graph.data(w1, {"first": 50})
    sources = {e["node"]["source"] for e in data["invoices"]["edges"]}
    assert {"CLUBCOLLECT", "FITNESSFORCE", "TIGHT"} <= sources
    requests = await graph.upstream_requests()
    arrived = sorted(r["arrived"] for r in requests)
    start = arrived[0]
    waves = [t - start for t in arrived]
    first = [t for t in waves if t < LATENCY_MS / 2000]
    second = [t for t in waves if t >= LATENCY_MS / 2000]
    assert first
    assert second
    # The second wave leaves when the lists are back, all at once: none of its requests
    # waits for another of them (that would be a third round trip).
    assert max(second) - min(second) < LATENCY_MS / 1000 * 0.75, sorted(
        (round((r["arrived"] - start) * 1000), r["source"], r["path"]) for r in requests
    )
