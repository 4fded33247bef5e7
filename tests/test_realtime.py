"""Subscriptions over graphql-transport-ws, with the npm graphql-ws client (tests/node):
events, keep-alive pongs, a clean close, and authentication on connect; and over
server-sent events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clubgraph.identity import Role, mint
from clubgraph.sandbox.runner import RunningSandbox
from clubgraph.settings import Settings
from support import GraphServer, graph_server, run_node

SECRET = "a-realtime-test-secret-of-at-least-32-bytes"


async def _subscribe(url: str, token: str | None = None, carrier: str = "header") -> dict[str, Any]:
    ws_url = url.replace("http://", "ws://") + "/graphql"
    extra = [token, carrier] if token else []
    out = await run_node("ws.mjs", ws_url, *extra, needs="graphql-ws", limit_s=60)
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return report


async def test_a_subscription_streams_keeps_alive_and_closes_cleanly(
    graph: GraphServer,
) -> None:
    report = await _subscribe(graph.url)
    assert report["error"] is None, report
    assert len(report["reports"]) == 2
    for event in report["reports"]:
        health = event["data"]["sourceHealth"]
        assert [s["source"] for s in health] == ["FITNESSFORCE", "TIMETAP", "CLUBCOLLECT", "TIGHT"]
        assert all(s["breakerState"] in {"CLOSED", "OPEN", "HALF_OPEN"} for s in health)
    assert report["pongs"] >= 1  # the client's pings, answered while the stream ran
    assert report["closed"]["code"] == 1000  # the client's dispose: a normal closure


@pytest.fixture(scope="module")
async def guarded(sandbox: RunningSandbox) -> Any:
    settings = Settings(
        mode="production",
        jwt_secret=SECRET,
        sources=sandbox.source_settings(),
    )
    async with graph_server(settings, sandbox) as server:
        yield server


async def test_a_connection_is_authenticated_when_it_opens(guarded: GraphServer) -> None:
    refused = await _subscribe(guarded.url)
    assert refused["reports"] == []
    assert refused["error"]
    token = mint(SECRET, role=Role.STAFF, subject="ops", tenants=["*"])
    admitted = await _subscribe(guarded.url, token)
    assert admitted["error"] is None, admitted
    assert len(admitted["reports"]) == 2
    # A browser cannot set headers on a WebSocket: the token in connection_init.
    by_params = await _subscribe(guarded.url, token, "params")
    assert by_params["error"] is None, by_params
    assert len(by_params["reports"]) == 2
    forged = await _subscribe(guarded.url, token + "x", "params")
    assert forged["reports"] == []
    assert forged["error"]


async def test_server_sent_events_stream_the_same_subscription(graph: GraphServer) -> None:
    payload = {"query": "subscription { sourceHealth(everySeconds: 1) { source healthy } }"}
    events: list[dict[str, Any]] = []
    async with graph.http.post(
        graph.url + "/graphql", json=payload, headers={"Accept": "text/event-stream"}
    ) as resp:
        assert resp.status == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        event = None
        async for raw in resp.content:
            line = raw.decode().strip()
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "next":
                events.append(json.loads(line.split(":", 1)[1]))
                if len(events) == 2:
                    break
    assert [len(e["data"]["sourceHealth"]) for e in events] == [4, 4]
