"""Live billing: signed webhooks become GraphQL subscription events, followed here with
the npm graphql-ws client (tests/node/live.mjs) over a real WebSocket.

The test plays FitnessForce and ClubCollect: it signs webhook bodies with the
development secrets, as the sandbox does, and posts them to the live server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

import services
from clubgraph import ids
from clubgraph.app import create_app
from clubgraph.connectors.clubcollect import DEV_CREDENTIALS as DEV_CLUBCOLLECT
from clubgraph.domain import Source
from clubgraph.events.hub import EventHub
from clubgraph.identity import Role, mint
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox
from clubgraph.settings import Settings
from support import GraphServer, follow, serve, signed_headers

SECRET = "a-live-billing-test-secret-of-32-bytes!!"
INVOICES = """{ invoices(first: 40, source: [FITNESSFORCE], tenant: "101") {
  nodes { id sourceId tenantId status client { id sourceId } } } }"""
CHANGES = """subscription ($filter: InvoiceChangeFilter) {
  invoiceChanged(filter: $filter) {
    eventId change rawType source invoiceId invoice { id status }
  }
}"""
PAYMENTS = """subscription ($c: ID!) {
  paymentReceived(clientId: $c) { eventId amount { amount currency } invoice { id } clientId }
}"""


@pytest.fixture(scope="module")
async def live() -> AsyncIterator[tuple[GraphServer, Any]]:
    # A sandbox of its own: these tests change its state.
    sandbox: RunningSandbox = await start_sandbox(port_base=None)
    settings = Settings(sources=sandbox.source_settings(), mode="sandbox", jwt_secret=SECRET)
    app = create_app(settings)
    server, task, url = await serve(app)
    try:
        async with aiohttp.ClientSession() as http:
            yield GraphServer(url, sandbox, http), app
    finally:
        server.should_exit = True
        await task
        await sandbox.stop()


def hub_of(app: Any) -> EventHub:
    hub = app.state.clubgraph.events
    assert isinstance(hub, EventHub)
    return hub


def opened(app: Any, count: int) -> Any:
    async def check() -> bool:
        return hub_of(app).broker.subscribers >= count

    return check


def ufp_body(
    event_type: str, tenant: str, client: str, data: dict[str, Any] | None = None
) -> bytes:
    return orjson.dumps(
        {
            "event_id": uuid.uuid4().hex,
            "event_type": event_type,
            "occurred_at": datetime.now(UTC).isoformat(),
            "tenant_id": int(tenant),
            "data": {"client_id": int(client), **(data or {})},
        }
    )


async def post(
    graph: GraphServer, source: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    async with graph.http.post(f"{graph.url}/webhooks/{source}", data=body, headers=headers) as r:
        return r.status, await r.json()


async def invoices(graph: GraphServer) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = (await graph.data(INVOICES))["invoices"]["nodes"]
    return [n for n in nodes if n["client"] is not None]


def invoice_event(invoice: dict[str, Any], event_type: str = "invoice.updated") -> bytes:
    client_id, invoice_id = invoice["sourceId"].split("/")
    return ufp_body(event_type, invoice["tenantId"], client_id, {"invoice_id": int(invoice_id)})


async def test_a_signed_webhook_reaches_a_subscriber_with_the_invoice_read_again(
    live: tuple[GraphServer, Any],
) -> None:
    graph, app = live
    invoice = (await invoices(graph))[0]
    async with follow(graph.url, CHANGES, subscribed=opened(app, 1)) as follower:
        body = invoice_event(invoice)
        status, answer = await post(
            graph, "fitnessforce", body, signed_headers("fitnessforce", body)
        )
        assert (status, answer["status"], answer["events"]) == (200, "recorded", 1)
        event = await follower.next()
    change = event["data"]["invoiceChanged"]
    assert change["change"] == "UPDATED"
    assert change["rawType"] == "invoice.updated"
    assert change["source"] == "FITNESSFORCE"
    assert change["invoiceId"] == invoice["id"]
    assert change["invoice"] == {"id": invoice["id"], "status": invoice["status"]}


async def test_bad_signatures_and_bodies_are_refused_and_record_nothing(
    live: tuple[GraphServer, Any],
) -> None:
    graph, app = live
    journal = hub_of(app).journal
    before = await journal.deliveries("fitnessforce")
    invoice = (await invoices(graph))[0]
    body = invoice_event(invoice)
    stale = int(time.time()) - 3600
    cases = [
        ({"Content-Type": "application/json"}, body, 401, "not signed"),
        (signed_headers("fitnessforce", body, secret="not-the-secret"), body, 401, "match"),
        (signed_headers("fitnessforce", body), body + b" ", 401, "match"),
        (signed_headers("fitnessforce", body, timestamp=stale), body, 401, "window"),
        ({**signed_headers("fitnessforce", body), "X-UFP-Delivery": "bad id!"}, body, 400, ""),
        (signed_headers("fitnessforce", b"{nope"), b"{nope", 400, "JSON"),
        (signed_headers("fitnessforce", b"[]"), b"[]", 400, "object"),
    ]
    bad = orjson.dumps({**orjson.loads(body), "occurred_at": "yesterday"})
    cases.append((signed_headers("fitnessforce", bad), bad, 400, "occurred_at"))
    async with follow(graph.url, CHANGES, subscribed=opened(app, 1)) as follower:
        for headers, sent, status, why in cases:
            got, answer = await post(graph, "fitnessforce", sent, headers)
            assert got == status, (why, answer)
            assert why in answer["error"]["message"]
            assert "secret" not in json.dumps(answer).lower()
        # Nothing was recorded, nothing announced: the next event is the good one.
        good = invoice_event(invoice, "invoice.voided")
        await post(graph, "fitnessforce", good, signed_headers("fitnessforce", good))
        first = await follower.next()
    assert first["data"]["invoiceChanged"]["rawType"] == "invoice.voided"
    assert await journal.deliveries("fitnessforce") == before + 1


async def test_a_redelivered_webhook_is_recorded_once_and_announced_once(
    live: tuple[GraphServer, Any],
) -> None:
    graph, app = live
    invoice = (await invoices(graph))[1]
    body = invoice_event(invoice)
    headers = signed_headers("fitnessforce", body)
    async with follow(graph.url, CHANGES, subscribed=opened(app, 1)) as follower:
        first = await post(graph, "fitnessforce", body, headers)
        # The platform did not hear the 200 in time and sends it again, re-signed.
        again_headers = {
            **signed_headers("fitnessforce", body),
            "X-UFP-Delivery": headers["X-UFP-Delivery"],
        }
        second = await post(graph, "fitnessforce", body, again_headers)
        sentinel = invoice_event(invoice, "invoice.created")
        await post(graph, "fitnessforce", sentinel, signed_headers("fitnessforce", sentinel))
        got = [await follower.next(), await follower.next()]
    assert first[1]["status"] == "recorded"
    assert second == (200, {"status": "duplicate", "delivery_id": headers["X-UFP-Delivery"]})
    assert [e["data"]["invoiceChanged"]["rawType"] for e in got] == [
        "invoice.updated",
        "invoice.created",
    ]


async def test_events_for_one_invoice_arrive_in_order(live: tuple[GraphServer, Any]) -> None:
    graph, app = live
    invoice = (await invoices(graph))[2]
    sent: list[str] = []
    async with follow(graph.url, CHANGES, subscribed=opened(app, 1)) as follower:
        for _ in range(15):
            body = invoice_event(invoice)
            headers = signed_headers("fitnessforce", body)
            sent.append(f"fitnessforce:{headers['X-UFP-Delivery']}")
            await post(graph, "fitnessforce", body, headers)
        got = [await follower.next() for _ in sent]
    assert [e["data"]["invoiceChanged"]["eventId"] for e in got] == sent


async def test_a_member_receives_only_its_own_changes(live: tuple[GraphServer, Any]) -> None:
    graph, app = live
    rows = await invoices(graph)
    mine = rows[0]
    theirs = next(r for r in rows if r["client"]["id"] != mine["client"]["id"])
    token = mint(SECRET, role=Role.MEMBER, subject="member-1", clients=[mine["client"]["id"]])
    async with (
        follow(graph.url, CHANGES, token=token, subscribed=opened(app, 1)) as member,
        follow(graph.url, PAYMENTS, {"c": theirs["client"]["id"]}, token=token) as peeking,
    ):
        for invoice in (theirs, mine):
            body = invoice_event(invoice)
            await post(graph, "fitnessforce", body, signed_headers("fitnessforce", body))
        event = await member.next()
        assert member.events.empty()
        refusal = await peeking.next()
        summary = await peeking.finish()
    assert event["data"]["invoiceChanged"]["invoiceId"] == mine["id"]
    # Another client's payments: refused at subscribe, as a client that does not exist,
    # and the subscription ends.
    assert refusal["data"] is None
    assert [e["extensions"]["code"] for e in refusal["errors"]] == ["NOT_FOUND"]
    assert summary["count"] == 1


async def test_a_payment_reaches_the_client_s_payment_subscribers(
    live: tuple[GraphServer, Any],
) -> None:
    graph, app = live
    invoice = (await invoices(graph))[3]
    client_id, invoice_id = invoice["sourceId"].split("/")
    variables = {"c": invoice["client"]["id"]}
    async with follow(graph.url, PAYMENTS, variables, subscribed=opened(app, 1)) as follower:
        body = ufp_body(
            "payment.received",
            invoice["tenantId"],
            client_id,
            {
                "invoice_id": int(invoice_id),
                "payment_id": 1,
                "amount": 12.5,
                "currency_code": "GBP",
            },
        )
        await post(graph, "fitnessforce", body, signed_headers("fitnessforce", body))
        event = (await follower.next())["data"]["paymentReceived"]
    assert event["amount"] == {"amount": "12.50", "currency": "GBP"}
    assert event["invoice"] == {"id": invoice["id"]}
    assert event["clientId"] == invoice["client"]["id"]
    assert ids.decode(event["clientId"]).id == client_id


# --- several replicas -----------------------------------------------------------------


@contextlib.asynccontextmanager
async def replica(env: dict[str, str]) -> AsyncIterator[str]:
    """A ``clubgraph serve`` process of its own on a free port; its base URL."""
    port = services.free_port()
    script = Path(sys.executable).parent / "clubgraph"
    process = await asyncio.create_subprocess_exec(
        str(script),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        env={**{k: v for k, v in os.environ.items() if not k.startswith("CLUBGRAPH_")}, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 30
            while True:
                assert process.returncode is None, "the replica exited"
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(url + "/readyz") as resp:
                        if resp.status == 200 and (await resp.json())["events"]["connected"]:
                            break
                assert time.monotonic() < deadline, "the replica never became ready"
                await asyncio.sleep(0.2)
        yield url
    finally:
        process.terminate()
        await process.wait()


async def test_a_webhook_to_one_replica_reaches_a_subscriber_of_another(
    live: tuple[GraphServer, Any], tmp_path: Any
) -> None:
    graph, _ = live
    sandbox = graph.sandbox
    common = {
        **{f"CLUBGRAPH_{s.upper()}_URL": u for s, u in sandbox.urls.items()},
        "CLUBGRAPH_MODE": "sandbox",
        "CLUBGRAPH_REDIS_URL": services.redis_url(),
        "CLUBGRAPH_POLL_INTERVAL": "0",
    }

    def own(name: str) -> dict[str, str]:
        return {
            **common,
            "CLUBGRAPH_STATE_DB": str(tmp_path / f"{name}-state.sqlite3"),
            "CLUBGRAPH_CLUBCOLLECT_INDEX": str(tmp_path / f"{name}-index.sqlite3"),
        }

    invoice = (await invoices(graph))[4]
    async with replica(own("a")) as one, replica(own("b")) as two:

        async def subscribed_on_two() -> bool:
            async with graph.http.get(two + "/readyz") as resp:
                subscribers: int = (await resp.json())["events"]["subscribers"]
                return subscribers >= 1

        variables = {"filter": {"clientId": invoice["client"]["id"]}}
        async with follow(two, CHANGES, variables, subscribed=subscribed_on_two) as follower:
            body = invoice_event(invoice)
            headers = signed_headers("fitnessforce", body)
            async with graph.http.post(
                one + "/webhooks/fitnessforce", data=body, headers=headers
            ) as resp:
                assert resp.status == 200
                assert (await resp.json())["status"] == "recorded"
            event = (await follower.next(15))["data"]["invoiceChanged"]
    assert event["eventId"] == f"fitnessforce:{headers['X-UFP-Delivery']}"
    assert event["invoice"] == {"id": invoice["id"], "status": invoice["status"]}


# --- from the sandbox, as from the platforms ------------------------------------------

OPEN = """query ($source: [Source!]) { invoices(first: 30, source: $source, status: [OPEN]) {
  nodes { id sourceId tenantId client { id } balanceDue { amount } } } }"""


async def _open_invoice(graph: GraphServer, source: str) -> dict[str, Any]:
    nodes = (await graph.data(OPEN, {"source": [source]}))["invoices"]["nodes"]
    found: dict[str, Any] = next(
        n for n in nodes if n["client"] is not None and float(n["balanceDue"]["amount"]) > 2
    )
    return found


async def _sandbox(graph: GraphServer, source: str, path: str, body: dict[str, Any]) -> Any:
    async with graph.http.post(graph.sandbox.urls[source] + path, json=body) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_a_payment_at_the_front_desk_reaches_the_member_s_app(
    live: tuple[GraphServer, Any],
) -> None:
    graph, app = live
    invoice = await _open_invoice(graph, "FITNESSFORCE")
    client_id, invoice_id = invoice["sourceId"].split("/")
    await _sandbox(
        graph, "fitnessforce", "/__sandbox/webhooks", {"url": graph.url + "/webhooks/fitnessforce"}
    )
    try:
        variables = {"c": invoice["client"]["id"]}
        async with follow(graph.url, PAYMENTS, variables, subscribed=opened(app, 1)) as follower:
            await _sandbox(
                graph,
                "fitnessforce",
                "/__sandbox/simulate/payment",
                {
                    "tenant_id": int(invoice["tenantId"]),
                    "client_id": int(client_id),
                    "invoice_id": int(invoice_id),
                    "amount": "1.25",
                },
            )
            event = (await follower.next())["data"]["paymentReceived"]
    finally:
        async with graph.http.delete(graph.sandbox.urls["fitnessforce"] + "/__sandbox/webhooks"):
            pass
    assert event["amount"]["amount"] == "1.25"
    assert event["invoice"] == {"id": invoice["id"]}


async def test_a_clubcollect_notification_announces_the_change_and_the_payment(
    live: tuple[GraphServer, Any],
) -> None:
    graph, app = live
    invoice = await _open_invoice(graph, "CLUBCOLLECT")
    upstream_id = ids.decode(invoice["id"]).id
    query = CHANGES.replace("invoice { id status }", "invoice { id amountPaid { amount } }")
    variables = {"filter": {"source": ["CLUBCOLLECT"]}}
    async with follow(graph.url, query, variables, subscribed=opened(app, 1)) as follower:
        paid = await _sandbox(
            graph,
            "clubcollect",
            "/__sandbox/simulate/payment",
            {"invoice_id": upstream_id, "amount_cents": 150},
        )
        body = orjson.dumps(
            {"api_key": DEV_CLUBCOLLECT.api_key, "invoice_ids": [upstream_id], "import_ids": []}
        )
        status, answer = await post(graph, "clubcollect", body, signed_headers("clubcollect", body))
        assert (status, answer["status"]) == (200, "accepted")
        change = (await follower.next())["data"]["invoiceChanged"]
    assert change["change"] == "UPDATED"
    assert change["invoiceId"] == invoice["id"]
    # Read again after the change: the payment shows.
    assert change["invoice"]["amountPaid"]["amount"] == str(
        (Decimal(paid["invoice"]["amount_paid_cents"]) / 100).quantize(Decimal("0.01"))
    )
    found = await hub_of(app).journal.unpublished()
    assert found == []


async def test_a_poller_finds_a_timetap_payment_and_announces_it(
    live: tuple[GraphServer, Any],
) -> None:
    graph, app = live
    pollers = app.state.clubgraph.pollers
    assert await pollers.poll([Source.TIMETAP]) == []  # the first round takes note
    invoice = await _open_invoice(graph, "TIMETAP")
    variables = {"c": invoice["client"]["id"]}
    async with follow(graph.url, PAYMENTS, variables, subscribed=opened(app, 1)) as follower:
        await _sandbox(
            graph,
            "timetap",
            "/__sandbox/simulate/payment",
            {"invoice_id": ids.decode(invoice["id"]).id.split("/")[-1], "amount": "2.00"},
        )
        found = await pollers.poll([Source.TIMETAP])
        event = (await follower.next())["data"]["paymentReceived"]
    kinds = sorted(
        (e.kind.value, e.change.value) for e in found if e.key == ids.decode(invoice["id"])
    )
    assert kinds == [("invoice", "updated"), ("payment", "received")]
    assert event["amount"]["amount"] == "2.00"
    assert event["invoice"] == {"id": invoice["id"]}
    # Found again (a second round, or another replica): announced once.
    assert await pollers.poll([Source.TIMETAP]) == []


async def test_an_announced_change_leaves_the_shared_cache(live: tuple[GraphServer, Any]) -> None:
    graph, _ = live
    settings = Settings(sources=graph.sandbox.source_settings(), mode="sandbox", cache_enabled=True)
    cached = await _open_invoice(graph, "FITNESSFORCE")
    client_id, invoice_id = cached["sourceId"].split("/")
    query = "query ($id: ID!) { invoice(id: $id) { balanceDue { amount } } }"
    app = create_app(settings)
    server, task, url = await serve(app)
    try:
        other = GraphServer(url, graph.sandbox, graph.http)
        before = (await other.data(query, {"id": cached["id"]}))["invoice"]["balanceDue"]
        await _sandbox(
            graph,
            "fitnessforce",
            "/__sandbox/simulate/payment",
            {
                "tenant_id": int(cached["tenantId"]),
                "client_id": int(client_id),
                "invoice_id": int(invoice_id),
                "amount": "1.00",
            },
        )
        # Changed behind the server's back: the cache still answers the old balance.
        assert (await other.data(query, {"id": cached["id"]}))["invoice"]["balanceDue"] == before
        body = invoice_event(cached)
        await post(other, "fitnessforce", body, signed_headers("fitnessforce", body))
        after = (await other.data(query, {"id": cached["id"]}))["invoice"]["balanceDue"]
        assert Decimal(after["amount"]) == Decimal(before["amount"]) - 1
    finally:
        server.should_exit = True
        await task
