"""Shared fixtures: the four sandbox servers and a clubgraph server over them, on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from clubgraph.sandbox.runner import RunningSandbox, start_sandbox
from support import GraphServer, serve


@pytest.fixture(scope="session")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None)
    yield running
    await running.stop()


@pytest.fixture(scope="session")
async def graph(sandbox: RunningSandbox) -> AsyncIterator[GraphServer]:
    from clubgraph.app import create_app
    from clubgraph.settings import Settings

    settings = Settings(
        sources=sandbox.source_settings(),
        trace_upstream=True,
        # As `make run` does: W2 asks for 500 invoices in one page.
        max_page_size=500,
        # The upstreams are sandboxes: anonymous callers are the demo staff user.
        mode="sandbox",
    )
    server, task, url = await serve(create_app(settings))
    async with aiohttp.ClientSession() as http:
        graph = GraphServer(url, sandbox, http)
        # Let the ClubCollect invoice index finish its first crawl before tests count requests.
        await graph.data("{ invoices(first: 1, source: [CLUBCOLLECT]) { edges { cursor } } }")
        yield graph
    server.should_exit = True
    await task
