"""Entities known only by key resolve lazily: relations start from the key alone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from clubgraph.app import create_app
from clubgraph.domain import Source
from clubgraph.sandbox.runner import start_sandbox
from clubgraph.settings import Settings, SourceSettings
from support import GraphServer, serve

LATENCY_MS = 150


@pytest.fixture(scope="module")
async def slow_graph() -> AsyncIterator[GraphServer]:
    sandbox = await start_sandbox(port_base=None, latency_ms=LATENCY_MS, sources=["fitnessforce"])
    settings = Settings(
        sources=(SourceSettings(Source.FITNESSFORCE, sandbox.urls["fitnessforce"], None),),
        mode="sandbox",  # anonymous callers, as over the embedded sandbox
    )
    server, task, url = await serve(create_app(settings))
    async with aiohttp.ClientSession() as http:
        yield GraphServer(url, sandbox, http)
    server.should_exit = True
    await task
    await sandbox.stop()


async def test_client_relations_start_in_parallel_with_the_client(
    slow_graph: GraphServer,
) -> None:
    listing = await slow_graph.data("{ invoices(first: 1) { nodes { id client { id } } } }")
    invoice = listing["invoices"]["nodes"][0]
    await slow_graph.clear_upstream_requests()
    data = await slow_graph.data(
        """query($id: ID!) { invoice(id: $id) {
             client { name subscriptions { totalCount } invoices(first: 1) { totalCount } } } }""",
        {"id": invoice["id"]},
    )
    assert data["invoice"]["client"]["name"]
    requests = sorted(await slow_graph.upstream_requests(), key=lambda r: r["arrived"])
    first, *rest = requests
    assert "/invoices/" in first["path"]  # the invoice itself: it names the client
    # The client record, its subscriptions and its invoices all start once the invoice
    # is back, together: none waits for another's answer.
    assert len(rest) == 3
    assert all(r["arrived"] >= first["time"] for r in rest)
    latest_start = max(r["arrived"] for r in rest)
    earliest_end = min(r["time"] for r in rest)
    assert latest_start < earliest_end, rest
