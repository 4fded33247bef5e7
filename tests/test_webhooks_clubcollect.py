"""ClubCollect notifications through clubgraph's webhook keep the invoice lists current."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest_asyncio

from clubgraph.app import create_app
from clubgraph.connectors.clubcollect import DEV_CREDENTIALS, ClubCollectConnector
from clubgraph.domain import Source
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox
from clubgraph.settings import Settings, SourceSettings
from support import GraphServer, serve, signed_headers

CO = "cmp_utrecht_rc"
AUTH = {"Authorization": f"ApiKey {DEV_CREDENTIALS.api_key}"}
LIST = """query ($first: Int) {
  invoices(first: $first, source: [CLUBCOLLECT], tenant: "cmp_utrecht_rc") {
    edges { node { number status } }
  }
}"""


@pytest_asyncio.fixture(scope="module")
async def graph() -> AsyncIterator[GraphServer]:
    # A ClubCollect sandbox of its own: these tests write to it.
    sandbox: RunningSandbox = await start_sandbox(port_base=None, sources=["clubcollect"])
    settings = Settings(
        sources=(SourceSettings(Source.CLUBCOLLECT, sandbox.urls["clubcollect"], None),),
        mode="sandbox",  # anonymous callers, as over the embedded sandbox
    )
    app = create_app(settings)
    server, task, url = await serve(app)
    async with aiohttp.ClientSession() as http:
        graph = GraphServer(url, sandbox, http)
        await graph.data("{ invoices(first: 1, source: [CLUBCOLLECT]) { edges { cursor } } }")
        graph.app = app  # type: ignore[attr-defined]
        yield graph
    server.should_exit = True
    await task
    await sandbox.stop()


def connector(graph: GraphServer) -> ClubCollectConnector:
    conn = graph.app.state.clubgraph.connectors[Source.CLUBCOLLECT]  # type: ignore[attr-defined]
    assert isinstance(conn, ClubCollectConnector)
    return conn


async def upstream(graph: GraphServer, method: str, path: str, **kwargs: Any) -> Any:
    url = graph.sandbox.urls["clubcollect"] + path
    async with graph.http.request(method, url, headers=AUTH, **kwargs) as resp:
        assert resp.status in (200, 204), await resp.text()
        return await resp.json() if resp.status == 200 else None


async def deliver(graph: GraphServer) -> dict[str, Any]:
    """Have the sandbox run a notification round to clubgraph's webhook now."""
    body: dict[str, Any] = await upstream(
        graph,
        "POST",
        "/__sandbox/notifications/deliver",
        json={"url": graph.url + "/webhooks/clubcollect"},
    )
    return body


async def numbers(graph: GraphServer) -> list[str]:
    data = await graph.data(LIST, {"first": 10})
    return [e["node"]["number"] for e in data["invoices"]["edges"]]


async def settled(graph: GraphServer) -> list[str]:
    """The list once clubgraph has applied the notifications it accepted."""
    await connector(graph).notifications_settled()
    return await numbers(graph)


async def post(
    graph: GraphServer, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """POST a notification, signed as ClubCollect signs it unless ``headers`` say else."""
    async with graph.http.post(
        graph.url + "/webhooks/clubcollect",
        data=body,
        headers=headers if headers is not None else signed_headers("clubcollect", body),
    ) as resp:
        return resp.status, await resp.json()


async def test_a_notified_invoice_appears_and_a_deleted_one_leaves(graph: GraphServer) -> None:
    imp = await upstream(graph, "POST", "/api/v2/imports", json={"company_id": CO})
    raw = await upstream(
        graph,
        "POST",
        "/api/v2/invoices",
        json={
            "import_id": imp["import_id"],
            "external_invoice_number": "URC-HOOK-1",
            "customer": {
                "name": {"first_name": "Web", "last_name": "Hook"},
                "email": {"email_address": "web.hook@example.com"},
            },
            "invoice_lines": [{"amount_cents": 2500, "description": "Bardienst afkoop"}],
            "amount_total_cents": 2500,
        },
    )
    assert "URC-HOOK-1" not in await numbers(graph)
    round_ = await deliver(graph)
    assert round_["status"] == 200
    assert round_["sent"]["api_key"] == DEV_CREDENTIALS.api_key
    assert raw["invoice_id"] in round_["sent"]["invoice_ids"]
    assert "URC-HOOK-1" in await settled(graph)
    # Answered with 200: the sandbox does not name these ids again.
    assert (await deliver(graph))["status"] is None

    await upstream(graph, "DELETE", f"/api/v2/invoices/{raw['invoice_id']}")
    assert (await deliver(graph))["status"] == 200
    assert "URC-HOOK-1" not in await settled(graph)


async def test_unknown_ids_are_accepted_and_change_nothing(graph: GraphServer) -> None:
    before = await connector(graph).index.counts()
    notification = {"api_key": DEV_CREDENTIALS.api_key, "invoice_ids": ["nope"], "import_ids": []}
    status, body = await post(graph, orjson.dumps(notification))
    assert status == 200
    assert {k: body[k] for k in ("status", "invoice_ids", "import_ids")} == {
        "status": "accepted",
        "invoice_ids": 1,
        "import_ids": 0,
    }
    await connector(graph).notifications_settled()
    assert await connector(graph).index.counts() == before


async def test_malformed_bodies_are_refused_and_change_nothing(graph: GraphServer) -> None:
    before = await connector(graph).index.counts()
    await graph.clear_upstream_requests()
    for body, code in [
        (b"{not json", "invalid_json"),
        (b"[]", "invalid_notification"),
        (b"{}", "invalid_notification"),
        (b'{"invoice_ids": "abc"}', "invalid_notification"),
        (b'{"invoice_ids": [1, 2]}', "invalid_notification"),
        (b'{"invoice_ids": [], "api_key": 7}', "invalid_notification"),
    ]:
        status, answer = await post(graph, body)
        assert status == 400, body
        assert answer["error"]["code"] == code
        assert answer["error"]["message"]
    assert await graph.upstream_requests() == []
    assert await connector(graph).index.counts() == before


async def test_unsigned_forged_and_foreign_notifications_are_refused(graph: GraphServer) -> None:
    before = await connector(graph).index.counts()
    await graph.clear_upstream_requests()
    body = orjson.dumps({"api_key": DEV_CREDENTIALS.api_key, "invoice_ids": ["x"]})
    foreign = orjson.dumps({"api_key": "someone-else", "invoice_ids": ["x"]})
    for headers, sent, status, code in [
        ({"Content-Type": "application/json"}, body, 401, "invalid_signature"),
        (signed_headers("clubcollect", body, secret="guessed"), body, 401, "invalid_signature"),
        (signed_headers("clubcollect", foreign), foreign, 401, "unverified_notification"),
    ]:
        got, answer = await post(graph, sent, headers)
        assert (got, answer["error"]["code"]) == (status, code)
    assert await graph.upstream_requests() == []
    assert await connector(graph).index.counts() == before
