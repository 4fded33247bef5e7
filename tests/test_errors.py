"""Upstream failures reach the client as coded errors that leak nothing; others still answer."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest

from clubgraph import ids
from clubgraph.app import create_app
from clubgraph.domain import EntityType, Key, Source
from clubgraph.sandbox.runner import RunningSandbox
from clubgraph.settings import Settings, SourceSettings
from support import GraphServer, serve


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: connections are refused


@pytest.fixture(scope="module")
async def tight_down(sandbox: RunningSandbox) -> AsyncIterator[GraphServer]:
    dead = f"http://127.0.0.1:{_dead_port()}"
    settings = Settings(
        sources=(
            SourceSettings(Source.TIMETAP, sandbox.urls["timetap"], None),
            SourceSettings(Source.TIGHT, dead, None),
        ),
        mode="sandbox",  # anonymous callers, as over the embedded sandbox
    )
    server, task, url = await serve(create_app(settings))
    async with aiohttp.ClientSession() as http:
        yield GraphServer(url, sandbox, http)
    server.should_exit = True
    await task


async def test_a_source_that_is_down_fails_only_its_own_fields(tight_down: GraphServer) -> None:
    tight_invoice = ids.encode(Key(EntityType.INVOICE, Source.TIGHT, "7001", "1123100003"))
    timetap_invoice = ids.encode(Key(EntityType.INVOICE, Source.TIMETAP, "50101", "810467"))
    body = await tight_down.query(
        """query($t: ID!, $tt: ID!) {
          tight: invoice(id: $t) { number }
          timetap: invoice(id: $tt) { number }
        }""",
        {"t": tight_invoice, "tt": timetap_invoice},
    )
    assert body["data"] == {"tight": None, "timetap": {"number": "50101-00467"}}
    [error] = body["errors"]
    assert error["path"] == ["tight"]
    assert error["extensions"] == {"code": "UPSTREAM_UNAVAILABLE", "source": "tight"}
    text = str(error)
    assert "127.0.0.1" not in text
    assert "http" not in text
    assert "Traceback" not in text


async def test_an_id_of_a_source_that_is_not_configured_is_absent(tight_down: GraphServer) -> None:
    ff_invoice = ids.encode(Key(EntityType.INVOICE, Source.FITNESSFORCE, "101", "1/2"))
    body = await tight_down.query("query($id: ID!) { node(id: $id) { id } }", {"id": ff_invoice})
    assert body == {"data": {"node": None}}
