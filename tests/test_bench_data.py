"""The benchmark's sandbox: W0's data (tenant 103) and serving reads from memory."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest

from clubgraph import workloads
from clubgraph.app import create_app
from clubgraph.domain import Source
from clubgraph.sandbox.runner import start_sandbox
from clubgraph.settings import Settings, SourceSettings
from support import GraphServer, serve


@pytest.fixture(scope="module")
async def bench_graph() -> AsyncIterator[GraphServer]:
    sandbox = await start_sandbox(
        port_base=None, sources=["fitnessforce"], bench=True, cache_responses=True
    )
    settings = Settings(
        sources=(SourceSettings(Source.FITNESSFORCE, sandbox.urls["fitnessforce"], None),),
        trace_upstream=True,
        mode="sandbox",  # anonymous callers, as over the embedded sandbox
    )
    server, task, url = await serve(create_app(settings))
    async with aiohttp.ClientSession() as http:
        yield GraphServer(url, sandbox, http)
    server.should_exit = True
    await task
    await sandbox.stop()


async def test_w0_is_100_invoices_of_10_clients(bench_graph: GraphServer) -> None:
    data = await bench_graph.data(workloads.load("W0"))
    nodes = data["invoices"]["nodes"]
    assert len(nodes) == 100
    per_client = Counter(n["client"]["id"] for n in nodes)
    assert len(per_client) == 10
    assert set(per_client.values()) == {10}
    assert all(n["client"]["email"].startswith("bench.member") for n in nodes)


async def test_reads_are_served_from_memory_until_a_write(bench_graph: GraphServer) -> None:
    query = """{ invoices(first: 1, source: [FITNESSFORCE], tenant: "103", status: [OPEN]) {
        nodes { id status } } }"""
    first = (await bench_graph.data(query))["invoices"]["nodes"][0]
    assert (await bench_graph.data(query))["invoices"]["nodes"][0] == first
    payload = await bench_graph.data(
        """mutation($i: VoidInvoiceInput!) { voidInvoice(input: $i) {
             userErrors { code } invoice { status } } }""",
        {"i": {"idempotencyKey": "bench-void-1", "invoiceId": first["id"], "reason": "Test"}},
    )
    assert payload["voidInvoice"]["userErrors"] == []
    # The write emptied the cache: the list no longer shows the voided invoice as open.
    after = (await bench_graph.data(query))["invoices"]["nodes"]
    assert first["id"] not in [n["id"] for n in after]
