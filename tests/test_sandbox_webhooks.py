"""The sandbox announces its changes as the platforms do: signed webhooks, in order, retried.

A tiny aiohttp receiver on loopback records every delivery it gets (path, headers, the
body bytes) and answers what the test tells it to, so that the sandbox's sender is
watched over real HTTP: FitnessForce events and ClubCollect real-time notifications.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from clubgraph import signing
from clubgraph.connectors.clubcollect import DEV_CREDENTIALS as CC_CREDENTIALS
from clubgraph.connectors.clubcollect.credentials import DEV_WEBHOOK_SECRET as CC_SECRET
from clubgraph.connectors.fitnessforce import DEV_CREDENTIALS as FF_CREDENTIALS
from clubgraph.connectors.fitnessforce.credentials import DEV_WEBHOOK_SECRET as FF_SECRET
from clubgraph.sandbox import webhooks
from clubgraph.sandbox.clubcollect.protocol import STATE as CC_STATE
from clubgraph.sandbox.fitnessforce.responses import STATE as FF_STATE
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox

CC_AUTH = {"Authorization": f"ApiKey {CC_CREDENTIALS.api_key}"}
FAST = {"retry_s": 0.01}


@dataclass
class Got:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver: records deliveries, answers ``statuses`` in turn, then 200."""

    url: str = ""
    got: list[Got] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delay_s: float = 0.0
    in_flight: int = 0
    most_in_flight: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            body = await request.read()
            self.got.append(Got(request.path, dict(request.headers), body))
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            status = self.statuses.pop(0) if self.statuses else 200
            return web.json_response({"ok": status < 300}, status=status)
        finally:
            self.in_flight -= 1

    async def wait_for(self, count: int, timeout_s: float = 5.0) -> list[Got]:
        """The first ``count`` deliveries, once they have arrived."""
        deadline = time.monotonic() + timeout_s
        while len(self.got) < count:
            assert time.monotonic() < deadline, f"got {len(self.got)} of {count}: {self.got}"
            await asyncio.sleep(0.01)
        return self.got[:count]

    def reset(self) -> None:
        self.got.clear()
        self.statuses.clear()
        self.delay_s = 0.0
        self.most_in_flight = 0


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", rec.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield rec
    await runner.cleanup()


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["fitnessforce", "clubcollect"])
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="module")
async def ff_token(sandbox: RunningSandbox, http: aiohttp.ClientSession) -> str:
    login = {"username": FF_CREDENTIALS.username, "password": FF_CREDENTIALS.password}
    async with http.post(sandbox.urls["fitnessforce"] + "/authentication/token", json=login) as r:
        token: str = (await r.json())["access_token"]
    return token


@pytest.fixture
async def hooks(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, receiver: Receiver
) -> AsyncIterator[Receiver]:
    """A clean receiver; every test leaves the sandboxes' webhooks off."""
    receiver.reset()
    yield receiver
    for url in sandbox.urls.values():
        async with http.delete(url + "/__sandbox/webhooks") as resp:
            assert resp.status == 204


async def call(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, url, **kwargs) as resp:
        text = await resp.text()
        return resp.status, orjson.loads(text) if text else None


async def configure(
    http: aiohttp.ClientSession, base: str, url: str, **settings: Any
) -> dict[str, Any]:
    status, body = await call(
        http, "POST", base + "/__sandbox/webhooks", json={"url": url, **settings}
    )
    assert status == 200, body
    config: dict[str, Any] = body["config"]
    return config


async def deliveries(http: aiohttp.ClientSession, base: str) -> list[dict[str, Any]]:
    status, body = await call(http, "GET", base + "/__sandbox/webhooks")
    assert status == 200
    found: list[dict[str, Any]] = body["deliveries"]
    return found


async def settled(http: aiohttp.ClientSession, base: str, timeout_s: float = 5.0) -> list[Any]:
    """The delivery log once nothing is pending any more."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = await deliveries(http, base)
        if all(d["status"] != "pending" for d in found):
            return found
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.01)


# --- FitnessForce ---------------------------------------------------------------------


def ff_invoice(sandbox: RunningSandbox, status: str, tenant: int = 101) -> dict[str, Any]:
    """A seeded invoice of ``tenant`` in ``status`` that nothing has paid yet."""
    state = sandbox.apps["fitnessforce"][FF_STATE]
    used = {p["invoice_id"] for p in state.payments.values()}
    return next(
        inv
        for inv in state.invoices.values()
        if inv["status"] == status
        and inv["tenant_id"] == tenant
        and inv["paid_amount"] == 0
        and inv["invoice_id"] not in used
    )


def ff_path(inv: dict[str, Any]) -> str:
    return f"/tenant/{inv['tenant_id']}/clients/{inv['client_id']}/invoices/{inv['invoice_id']}"


async def ff_pay(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, inv: dict[str, Any], **extra: Any
) -> tuple[int, Any]:
    body = {k: inv[k] for k in ("tenant_id", "client_id", "invoice_id")} | extra
    url = sandbox.urls["fitnessforce"] + "/__sandbox/simulate/payment"
    return await call(http, "POST", url, json=body)


def check_ff_delivery(got: Got, event_type: str, tenant_id: int) -> dict[str, Any]:
    """The documented headers and envelope, a verifying signature; the event's body."""
    assert got.path == "/hooks/ff"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-UFP-Event"] == event_type
    delivery = got.headers["X-UFP-Delivery"]
    assert len(delivery) == 32
    int(delivery, 16)
    signing.verify([FF_SECRET], got.headers["X-UFP-Signature"], got.body, now=time.time())
    event: dict[str, Any] = got.json
    assert set(event) == {"event_id", "event_type", "occurred_at", "tenant_id", "data"}
    assert (event["event_id"], event["event_type"]) == (delivery, event_type)
    assert event["tenant_id"] == tenant_id
    assert event["occurred_at"][-6:] in ("+01:00", "+02:00", "+00:00")  # the tenant's offset
    return event


async def test_fitnessforce_writes_and_payments_are_announced_in_order(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, ff_token: str, hooks: Receiver
) -> None:
    base = sandbox.urls["fitnessforce"]
    config = await configure(http, base, hooks.url + "/hooks/ff")
    assert config == {
        "url": hooks.url + "/hooks/ff",
        "secret_set": False,
        "max_attempts": 5,
        "retry_s": 0.2,
    }
    auth = {"Authorization": f"Bearer {ff_token}"}
    voided = ff_invoice(sandbox, "Unpaid")
    status, _ = await call(
        http, "POST", base + ff_path(voided) + "/void", json={"reason": "Duplicate"}, headers=auth
    )
    assert status == 200
    paid = ff_invoice(sandbox, "Unpaid")
    status, answer = await ff_pay(http, sandbox, paid, amount="10.50")
    assert status == 200, answer
    sub = next(
        s
        for s in sandbox.apps["fitnessforce"][FF_STATE].subscriptions.values()
        if s["subscription_status"] == "Active" and s["tenant_id"] == 101
    )
    sub_path = f"/tenant/101/clients/{sub['client_id']}/subscriptions/{sub['subscription_id']}"
    status, _ = await call(
        http, "POST", base + sub_path + "/cancel", json={"reason": "Moving"}, headers=auth
    )
    assert status == 200

    got = await hooks.wait_for(4)
    first = check_ff_delivery(got[0], "invoice.voided", 101)
    assert first["data"] == {"client_id": voided["client_id"], "invoice_id": voided["invoice_id"]}
    payment = check_ff_delivery(got[1], "payment.received", 101)
    assert payment["data"] == {
        "client_id": paid["client_id"],
        "invoice_id": paid["invoice_id"],
        "payment_id": answer["payment"]["payment_id"],
        "amount": 10.5,
        "currency_code": "EUR",
    }
    updated = check_ff_delivery(got[2], "invoice.updated", 101)
    assert updated["data"] == {"client_id": paid["client_id"], "invoice_id": paid["invoice_id"]}
    cancelled = check_ff_delivery(got[3], "subscription.cancelled", 101)
    assert cancelled["data"] == {
        "client_id": sub["client_id"],
        "subscription_id": sub["subscription_id"],
    }
    ids = [g.headers["X-UFP-Delivery"] for g in got]
    assert len(set(ids)) == 4
    log = await settled(http, base)
    assert [(d["delivery_id"], d["status"], d["attempts"], d["last_status"]) for d in log] == [
        (i, "delivered", 1, 200) for i in ids
    ]
    assert [d["event_type"] for d in log] == [
        "invoice.voided",
        "payment.received",
        "invoice.updated",
        "subscription.cancelled",
    ]


async def test_every_fitnessforce_write_is_announced(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, ff_token: str, hooks: Receiver
) -> None:
    base = sandbox.urls["fitnessforce"]
    await configure(http, base, hooks.url + "/hooks/ff")
    state = sandbox.apps["fitnessforce"][FF_STATE]
    auth = {"Authorization": f"Bearer {ff_token}"}
    today = datetime.now(UTC).date()
    inv = next(
        i
        for i in state.invoices.values()
        if i["tenant_id"] == 101 and state.clients[i["client_id"]]["email"]
    )
    sub = next(
        s
        for s in state.subscriptions.values()
        if s["tenant_id"] == 101
        and s["subscription_status"] == "Active"
        and not any(f["status"] in ("Scheduled", "Active") for f in s["freezes"])
    )
    pending = next(
        s
        for s in state.subscriptions.values()
        if s["tenant_id"] == 101 and s["subscription_status"] == "Pending" and not s["end_date"]
    )
    one = base + f"/tenant/101/clients/{sub['client_id']}/subscriptions/{sub['subscription_id']}"
    later = (today + timedelta(days=40)).isoformat()
    writes: list[tuple[str, str, Any, str]] = [
        ("POST", base + ff_path(inv) + "/change_sales_rep", {"staff_id": 103}, "invoice.updated"),
        ("POST", base + ff_path(inv) + "/send_invoice_pdf", ["Email"], "invoice.updated"),
        ("PUT", one + "/end_date", {"end_date": "2031-12-31"}, "subscription.updated"),
        (
            "POST",
            one + "/freezes",
            {
                "freeze_start_date": today.isoformat(),
                "freeze_end_date": (today + timedelta(days=10)).isoformat(),
                "reason": "Injury",
            },
            "subscription.updated",
        ),
        ("POST", one + "/freezes/{freeze}/stop", None, "subscription.updated"),
        (
            "POST",
            one + "/freezes",
            {
                "freeze_start_date": (today + timedelta(days=20)).isoformat(),
                "freeze_end_date": (today + timedelta(days=30)).isoformat(),
                "reason": "Travel",
            },
            "subscription.updated",
        ),
        ("POST", one + "/freezes/{freeze}/cancel", None, "subscription.updated"),
        (
            "POST",
            one + "/cancel",
            {"reason": "Moving", "cancellation_date": later},
            "subscription.cancelled",
        ),
        ("POST", one + "/reactivate", None, "subscription.updated"),
        ("POST", one + "/void", {"reason": "Signed up in error"}, "subscription.updated"),
        (
            "PUT",
            base
            + f"/tenant/101/clients/{pending['client_id']}/subscriptions/"
            + f"{pending['subscription_id']}/start_date",
            {"start_date": (today + timedelta(days=5)).isoformat()},
            "subscription.updated",
        ),
    ]
    freeze = 0
    for method, url, body, _ in writes:
        status, answer = await call(
            http, method, url.replace("{freeze}", str(freeze)), json=body, headers=auth
        )
        assert status in (200, 201), (url, answer)
        if isinstance(answer, dict) and "freeze_id" in answer:
            freeze = answer["freeze_id"]
    got = await hooks.wait_for(len(writes))
    assert [g.headers["X-UFP-Event"] for g in got] == [w[3] for w in writes]
    for g, (_, _, _, kind) in zip(got, writes, strict=True):
        event = check_ff_delivery(g, kind, 101)
        if kind.startswith("invoice."):
            assert event["data"] == {"client_id": inv["client_id"], "invoice_id": inv["invoice_id"]}
    assert got[-1].json["data"]["subscription_id"] == pending["subscription_id"]
    assert {g.json["data"].get("subscription_id") for g in got[2:-1]} == {sub["subscription_id"]}
    await asyncio.sleep(0.05)
    assert len(hooks.got) == len(writes)


async def test_a_payment_in_another_currency_says_so(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, hooks: Receiver
) -> None:
    base = sandbox.urls["fitnessforce"]
    await configure(http, base, hooks.url + "/hooks/ff")
    inv = ff_invoice(sandbox, "Unpaid", tenant=102)
    status, _ = await ff_pay(http, sandbox, inv)
    assert status == 200
    got = await hooks.wait_for(2)
    event = check_ff_delivery(got[0], "payment.received", 102)
    assert event["data"]["currency_code"] == "GBP"
    assert event["data"]["amount"] == inv["paid_amount"]


async def test_failed_attempts_are_retried_with_the_same_id_and_body(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, hooks: Receiver
) -> None:
    base = sandbox.urls["fitnessforce"]
    await configure(http, base, hooks.url + "/hooks/ff", **FAST)
    hooks.statuses = [500, 500]
    inv = ff_invoice(sandbox, "Unpaid")
    status, _ = await ff_pay(http, sandbox, inv, amount=1)
    assert status == 200
    got = await hooks.wait_for(4)
    # payment.received three times (500, 500, 200), then invoice.updated.
    assert {g.headers["X-UFP-Delivery"] for g in got[:3]} == {got[0].json["event_id"]}
    assert {g.body for g in got[:3]} == {got[0].body}
    for g in got[:3]:
        check_ff_delivery(g, "payment.received", 101)
    check_ff_delivery(got[3], "invoice.updated", 101)
    log = await settled(http, base)
    assert [(d["status"], d["attempts"], d["last_status"]) for d in log] == [
        ("delivered", 3, 200),
        ("delivered", 1, 200),
    ]


async def test_a_delivery_that_never_succeeds_is_failed_and_the_next_goes(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, hooks: Receiver
) -> None:
    base = sandbox.urls["fitnessforce"]
    await configure(http, base, hooks.url + "/hooks/ff", max_attempts=2, retry_s=0.01)
    hooks.statuses = [503, 410]
    await ff_pay(http, sandbox, ff_invoice(sandbox, "Unpaid"))
    got = await hooks.wait_for(3)
    assert [g.headers["X-UFP-Event"] for g in got] == [
        "payment.received",
        "payment.received",
        "invoice.updated",
    ]
    log = await settled(http, base)
    assert [(d["status"], d["attempts"], d["last_status"]) for d in log] == [
        ("failed", 2, 410),
        ("delivered", 1, 200),
    ]


async def test_deliveries_are_sent_one_at_a_time(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, hooks: Receiver
) -> None:
    base = sandbox.urls["fitnessforce"]
    await configure(http, base, hooks.url + "/hooks/ff")
    hooks.delay_s = 0.05
    for _ in range(3):
        await ff_pay(http, sandbox, ff_invoice(sandbox, "Unpaid"))
    got = await hooks.wait_for(6)
    assert hooks.most_in_flight == 1
    kinds = [g.headers["X-UFP-Event"] for g in got]
    assert kinds == ["payment.received", "invoice.updated"] * 3


async def test_a_connection_refused_is_retried_then_failed(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, hooks: Receiver
) -> None:
    base = sandbox.urls["fitnessforce"]
    # A port nothing listens on: every attempt fails without an answer.
    await configure(http, base, "http://127.0.0.1:9/hooks", max_attempts=2, retry_s=0.01)
    await ff_pay(http, sandbox, ff_invoice(sandbox, "Unpaid"))
    log = await settled(http, base)
    assert [(d["status"], d["attempts"], d["last_status"]) for d in log] == [
        ("failed", 2, None),
        ("failed", 2, None),
    ]


async def test_redelivery_sends_the_same_delivery_again(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, hooks: Receiver
) -> None:
    base = sandbox.urls["fitnessforce"]
    await configure(http, base, hooks.url + "/hooks/ff")
    await ff_pay(http, sandbox, ff_invoice(sandbox, "Unpaid"))
    first, _ = await hooks.wait_for(2)
    delivery_id = first.headers["X-UFP-Delivery"]
    await settled(http, base)
    status, body = await call(
        http, "POST", base + "/__sandbox/webhooks/redeliver", json={"delivery_id": delivery_id}
    )
    assert status == 202, body
    assert body["delivery_id"] == delivery_id
    again = (await hooks.wait_for(3))[2]
    assert again.headers["X-UFP-Delivery"] == delivery_id
    assert again.body == first.body
    check_ff_delivery(again, "payment.received", 101)
    log = await settled(http, base)
    # The redelivered one moves to the end of the log, with its attempts counted.
    assert [(d["delivery_id"], d["attempts"]) for d in log][-1] == (delivery_id, 2)

    for bad, code in [
        ({"delivery_id": "0" * 32}, 404),
        ({}, 422),
        ({"delivery_id": 7}, 422),
    ]:
        status, body = await call(http, "POST", base + "/__sandbox/webhooks/redeliver", json=bad)
        assert status == code, body
        assert body["error"]
    assert len(hooks.got) == 3


async def test_delete_stops_sending_and_forgets(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, hooks: Receiver
) -> None:
    base = sandbox.urls["fitnessforce"]
    await configure(http, base, hooks.url + "/hooks/ff")
    await ff_pay(http, sandbox, ff_invoice(sandbox, "Unpaid"))
    await hooks.wait_for(2)
    status, _ = await call(http, "DELETE", base + "/__sandbox/webhooks")
    assert status == 204
    status, body = await call(http, "GET", base + "/__sandbox/webhooks")
    assert (status, body) == (200, {"config": None, "deliveries": []})
    await ff_pay(http, sandbox, ff_invoice(sandbox, "Unpaid"))
    await asyncio.sleep(0.2)
    assert len(hooks.got) == 2
    assert await deliveries(http, base) == []


async def test_delete_stops_a_delivery_being_retried(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, hooks: Receiver
) -> None:
    base = sandbox.urls["fitnessforce"]
    await configure(http, base, hooks.url + "/hooks/ff", retry_s=0.1)
    hooks.statuses = [500] * 10
    await ff_pay(http, sandbox, ff_invoice(sandbox, "Unpaid"))
    await hooks.wait_for(1)
    status, _ = await call(http, "DELETE", base + "/__sandbox/webhooks")
    assert status == 204
    await asyncio.sleep(0.3)
    assert len(hooks.got) == 1


async def test_a_configured_secret_signs_and_is_never_shown(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, hooks: Receiver
) -> None:
    base = sandbox.urls["fitnessforce"]
    config = await configure(http, base, hooks.url + "/hooks/ff", secret="s3cr3t-rotated")
    assert config["secret_set"] is True
    await ff_pay(http, sandbox, ff_invoice(sandbox, "Unpaid"))
    got = (await hooks.wait_for(1))[0]
    header = got.headers["X-UFP-Signature"]
    signing.verify(["s3cr3t-rotated"], header, got.body, now=time.time())
    with pytest.raises(signing.SignatureError):
        signing.verify([FF_SECRET], header, got.body, now=time.time())
    status, body = await call(http, "GET", base + "/__sandbox/webhooks")
    assert status == 200
    assert "s3cr3t" not in orjson.dumps(body).decode()


async def test_without_configuration_nothing_is_sent_or_kept(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, ff_token: str, hooks: Receiver
) -> None:
    base = sandbox.urls["fitnessforce"]
    inv = ff_invoice(sandbox, "Unpaid")
    status, _ = await ff_pay(http, sandbox, inv)
    assert status == 200
    status, _ = await call(
        http,
        "POST",
        base + ff_path(inv) + "/change_sales_rep",
        json={"staff_id": 102},
        headers={"Authorization": f"Bearer {ff_token}"},
    )
    assert status == 200
    await asyncio.sleep(0.1)
    assert hooks.got == []
    assert await deliveries(http, base) == []
    sender = sandbox.apps["fitnessforce"][webhooks.WEBHOOKS]
    assert not sender.queue
    assert not sender.log


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": ""},
        {"url": "ftp://example.com/hooks"},
        {"url": "/webhooks/fitnessforce"},
        {"url": "http://"},
        {"url": 42},
        {"url": "http://127.0.0.1:1/x", "max_attempts": 0},
        {"url": "http://127.0.0.1:1/x", "max_attempts": "3"},
        {"url": "http://127.0.0.1:1/x", "max_attempts": True},
        {"url": "http://127.0.0.1:1/x", "retry_s": -1},
        {"url": "http://127.0.0.1:1/x", "retry_s": 3600},
        {"url": "http://127.0.0.1:1/x", "secret": ""},
        {"url": "http://127.0.0.1:1/x", "secret": 5},
        {"url": "http://127.0.0.1:1/x", "uri": "typo"},
        ["http://127.0.0.1:1/x"],
    ],
)
async def test_a_bad_configuration_is_refused_and_changes_nothing(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, hooks: Receiver, body: Any
) -> None:
    for base in sandbox.urls.values():
        await configure(http, base, hooks.url + "/kept")
        status, answer = await call(http, "POST", base + "/__sandbox/webhooks", json=body)
        assert status == 422, answer
        assert isinstance(answer["error"], str)
        assert answer["error"]
        status, shown = await call(http, "GET", base + "/__sandbox/webhooks")
        assert shown["config"]["url"] == hooks.url + "/kept"


async def test_a_body_that_is_not_json_is_refused(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, hooks: Receiver
) -> None:
    base = sandbox.urls["fitnessforce"]
    for path in ("/__sandbox/webhooks", "/__sandbox/webhooks/redeliver"):
        status, answer = await call(http, "POST", base + path, data=b"{nope")
        assert status == 422
        assert "JSON" in answer["error"]
    status, shown = await call(http, "GET", base + "/__sandbox/webhooks")
    assert shown["config"] is None


async def test_the_log_keeps_the_last_deliveries(
    hooks: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhooks, "LOG_LIMIT", 3)
    sender = webhooks.Sender(webhooks.Scheme("X-D", "X-S", "secret"))
    sender.configure(webhooks.Config(hooks.url + "/bounded"))

    def numbers() -> list[int]:
        return [orjson.loads(d.body)["n"] for d in sender.log.values()]

    def post(n: int) -> webhooks.Delivery | None:
        return sender.post("test.event", lambda _id: {"n": n})

    try:
        for n in range(5):
            post(n)
            await hooks.wait_for(n + 1)
        assert numbers() == [2, 3, 4]
        # A burst the receiver cannot keep up with: the oldest waiting are given up.
        burst = [post(n) for n in range(5, 10)]
        assert numbers() == [7, 8, 9]
        assert [d.status for d in burst if d is not None][:2] == ["failed", "failed"]
        got = await hooks.wait_for(8)
        assert [g.json["n"] for g in got] == [0, 1, 2, 3, 4, 7, 8, 9]
    finally:
        await sender.close()


# --- ClubCollect ----------------------------------------------------------------------


def cc_open_invoice(sandbox: RunningSandbox) -> dict[str, Any]:
    state = sandbox.apps["clubcollect"][CC_STATE]
    return next(
        i
        for i in state.invoices.values()
        if i["status"] == "transmitted"
        and i["amount_open_cents"] > 100
        and i["invoice_id"] not in state.changed_invoices
    )


async def pending_ids(http: aiohttp.ClientSession, base: str) -> list[str]:
    status, body = await call(http, "GET", base + "/__sandbox/notifications")
    assert status == 200
    ids: list[str] = body["invoice_ids"]
    return ids


def check_cc_delivery(got: Got, invoice_id: str) -> str:
    assert got.path == "/hooks/cc"
    assert got.headers["Content-Type"] == "application/json"
    assert got.json == {
        "api_key": CC_CREDENTIALS.api_key,
        "invoice_ids": [invoice_id],
        "import_ids": [],
    }
    signing.verify([CC_SECRET], got.headers["X-ClubCollect-Signature"], got.body, now=time.time())
    delivery = got.headers["X-ClubCollect-Delivery"]
    assert len(delivery) == 32
    return delivery


async def test_clubcollect_notifies_a_changed_invoice_in_real_time(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, hooks: Receiver
) -> None:
    base = sandbox.urls["clubcollect"]
    await configure(http, base, hooks.url + "/hooks/cc")
    inv = cc_open_invoice(sandbox)
    status, answer = await call(
        http,
        "POST",
        base + "/__sandbox/simulate/payment",
        json={"invoice_id": inv["invoice_id"], "amount_cents": 100},
    )
    assert status == 200, answer
    delivery = check_cc_delivery((await hooks.wait_for(1))[0], inv["invoice_id"])
    log = await settled(http, base)
    assert [(d["delivery_id"], d["status"]) for d in log] == [(delivery, "delivered")]
    # Answered 2xx: the next round does not name it again.
    assert inv["invoice_id"] not in await pending_ids(http, base)

    # An API write is notified the same way.
    status, _ = await call(
        http,
        "PUT",
        base + f"/api/v2/invoices/{inv['invoice_id']}",
        json={"club_membership_number": "M-77"},
        headers=CC_AUTH,
    )
    assert status == 200
    check_cc_delivery((await hooks.wait_for(2))[1], inv["invoice_id"])


async def test_clubcollect_ids_not_confirmed_stay_pending(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, hooks: Receiver
) -> None:
    base = sandbox.urls["clubcollect"]
    await configure(http, base, hooks.url + "/hooks/cc", max_attempts=2, retry_s=0.01)
    hooks.statuses = [500, 500]
    inv = cc_open_invoice(sandbox)
    status, _ = await call(
        http, "POST", base + "/__sandbox/simulate/payment", json={"invoice_id": inv["invoice_id"]}
    )
    assert status == 200
    got = await hooks.wait_for(2)
    assert got[0].headers["X-ClubCollect-Delivery"] == got[1].headers["X-ClubCollect-Delivery"]
    assert [(d["status"], d["last_status"]) for d in await settled(http, base)] == [("failed", 500)]
    assert inv["invoice_id"] in await pending_ids(http, base)

    # The round names it and is signed too, with a delivery id of its own.
    status, round_ = await call(
        http,
        "POST",
        base + "/__sandbox/notifications/deliver",
        json={"url": hooks.url + "/hooks/cc"},
    )
    assert status == 200
    assert round_["status"] == 200
    sent = (await hooks.wait_for(3))[2]
    assert sent.json == round_["sent"]
    assert inv["invoice_id"] in sent.json["invoice_ids"]
    assert sent.headers["X-ClubCollect-Delivery"] == round_["delivery_id"]
    assert round_["delivery_id"] != got[0].headers["X-ClubCollect-Delivery"]
    signing.verify([CC_SECRET], sent.headers["X-ClubCollect-Signature"], sent.body, now=time.time())
    assert await pending_ids(http, base) == []


async def test_a_change_after_the_notification_keeps_the_id_pending(
    sandbox: RunningSandbox, http: aiohttp.ClientSession, hooks: Receiver
) -> None:
    base = sandbox.urls["clubcollect"]
    await configure(http, base, hooks.url + "/hooks/cc", max_attempts=1)
    hooks.delay_s = 0.2
    hooks.statuses = [200, 500]
    inv = cc_open_invoice(sandbox)
    for amount in (100, 1):
        status, _ = await call(
            http,
            "POST",
            base + "/__sandbox/simulate/payment",
            json={"invoice_id": inv["invoice_id"], "amount_cents": amount},
        )
        assert status == 200
    log = await settled(http, base)
    assert [d["status"] for d in log] == ["delivered", "failed"]
    # The first was confirmed, but the second change was not: the id stays pending.
    assert inv["invoice_id"] in await pending_ids(http, base)


async def test_a_bad_round_url_is_refused(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    base = sandbox.urls["clubcollect"]
    status, body = await call(
        http, "POST", base + "/__sandbox/notifications/deliver", json={"url": "nope"}
    )
    assert (status, body) == (422, {"error": "invalid_url"})


# --- start_sandbox(webhook_base=...) ----------------------------------------------------


async def test_start_sandbox_points_webhooks_at_clubgraph(
    http: aiohttp.ClientSession, hooks: Receiver
) -> None:
    running = await start_sandbox(port_base=None, webhook_base=hooks.url + "/")
    try:
        for source in ("timetap", "tight"):
            # TimeTap and Tight send no webhooks: they have no such control.
            async with http.get(running.urls[source] + "/__sandbox/webhooks") as resp:
                assert resp.status == 404
        ff = running.apps["fitnessforce"][FF_STATE]
        inv = next(i for i in ff.invoices.values() if i["status"] == "Unpaid")
        await call(
            http,
            "POST",
            running.urls["fitnessforce"] + "/__sandbox/simulate/payment",
            json={k: inv[k] for k in ("tenant_id", "client_id", "invoice_id")},
        )
        cc = running.apps["clubcollect"][CC_STATE]
        cinv = next(i for i in cc.invoices.values() if i["status"] == "transmitted")
        await call(
            http,
            "POST",
            running.urls["clubcollect"] + "/__sandbox/simulate/payment",
            json={"invoice_id": cinv["invoice_id"]},
        )
        got = await hooks.wait_for(3)
        assert sorted(g.path for g in got) == [
            "/webhooks/clubcollect",
            "/webhooks/fitnessforce",
            "/webhooks/fitnessforce",
        ]
        for g in got:
            secret = FF_SECRET if g.path.endswith("fitnessforce") else CC_SECRET
            name = "X-UFP-Signature" if secret == FF_SECRET else "X-ClubCollect-Signature"
            signing.verify([secret], g.headers[name], g.body, now=time.time())
    finally:
        await running.stop()


async def test_start_sandbox_refuses_a_bad_webhook_base() -> None:
    with pytest.raises(ValueError, match="http"):
        await start_sandbox(port_base=None, webhook_base="localhost:8000")


async def test_stopping_mid_retry_is_clean(http: aiohttp.ClientSession, hooks: Receiver) -> None:
    running = await start_sandbox(port_base=None, sources=["fitnessforce"])
    base = running.urls["fitnessforce"]
    await configure(http, base, hooks.url + "/hooks/ff", retry_s=30)
    hooks.statuses = [500]
    ff = running.apps["fitnessforce"][FF_STATE]
    inv = next(i for i in ff.invoices.values() if i["status"] == "Unpaid")
    await call(
        http,
        "POST",
        base + "/__sandbox/simulate/payment",
        json={k: inv[k] for k in ("tenant_id", "client_id", "invoice_id")},
    )
    await hooks.wait_for(1)
    started = time.monotonic()
    await running.stop()
    assert time.monotonic() - started < 5
    assert running.apps["fitnessforce"][webhooks.WEBHOOKS]._task is None
