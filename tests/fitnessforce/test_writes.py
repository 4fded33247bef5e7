"""FitnessForce writes on the contract, over HTTP against the sandbox, counting requests."""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

import clubgraph.sandbox.fitnessforce as ff_sandbox
from clubgraph.commands import (
    SUBSCRIPTION_CAPABILITY,
    Capability,
    Channel,
    ChannelResult,
    CreateInvoice,
    ErrorCode,
    LineChange,
    LineInput,
    NotSupported,
    PartialWrite,
    SubscriptionCommand,
    SubscriptionOp,
    UpdateInvoice,
    UserError,
    WriteRejected,
)
from clubgraph.connectors.fitnessforce import DEV_CREDENTIALS, FitnessForceConnector
from clubgraph.connectors.fitnessforce.mapping import invoice_key, subscription_key
from clubgraph.connectors.fitnessforce.refusals import ERRORS, user_error, user_errors
from clubgraph.domain import EntityType, InvoiceStatus, Key, Source, SubscriptionStatus
from clubgraph.errors import UpstreamUnavailable
from clubgraph.sandbox.fitnessforce.responses import STATE
from clubgraph.sandbox.fitnessforce.state import JSON, FitnessForceState
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox

Op = SubscriptionOp
TODAY = datetime.now(UTC).date()
FUTURE = date(2099, 1, 1)


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["fitnessforce"])
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def conn(sandbox: RunningSandbox) -> AsyncIterator[FitnessForceConnector]:
    connector = FitnessForceConnector(sandbox.urls["fitnessforce"], DEV_CREDENTIALS)
    await connector.start()
    yield connector
    await connector.close()


class Upstream:
    """The sandbox over HTTP: its request log, its faults, and raw calls as a front end's."""

    def __init__(self, url: str, state: FitnessForceState, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.state = state
        self.session = session
        self.token = ""
        self._used: set[int] = set()

    async def clear(self) -> None:
        await self.session.delete(self.url + "/__sandbox/requests")
        await self.session.delete(self.url + "/__sandbox/faults")

    async def calls(self) -> list[tuple[str, str]]:
        async with self.session.get(self.url + "/__sandbox/requests") as r:
            entries: list[dict[str, Any]] = await r.json()
        return [(e["method"], e["path"]) for e in entries]

    async def fault(self, path: str, **spec: Any) -> None:
        async with self.session.post(
            self.url + "/__sandbox/faults", json={"path": path, **spec}
        ) as r:
            assert r.status == 204

    async def raw(
        self, method: str, path: str, body: Any = None, *, data: str | None = None
    ) -> Any:
        """A call that skips the connector's pre-checks; returns the error body's errors."""
        if not self.token:
            creds = {"username": DEV_CREDENTIALS.username, "password": DEV_CREDENTIALS.password}
            async with self.session.post(self.url + "/authentication/token", json=creds) as r:
                self.token = (await r.json())["access_token"]
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        payload = data if data is not None else (None if body is None else json.dumps(body))
        async with self.session.request(
            method, self.url + path, data=payload, headers=headers
        ) as r:
            assert r.status >= 400, await r.text()
            return (await r.json())["errors"]

    def pick(self, kind: str, keep: Callable[[JSON], bool]) -> JSON:
        """An entity no other test has taken."""
        table = self.state.invoices if kind == "invoice" else self.state.subscriptions
        for ident, row in table.items():
            if ident not in self._used and keep(row):
                self._used.add(ident)
                return row
        raise LookupError(kind)

    def client(self, row: JSON) -> JSON:
        return self.state.clients[row["client_id"]]


@pytest.fixture(scope="module")
async def upstream_session(sandbox: RunningSandbox) -> AsyncIterator[Upstream]:
    async with aiohttp.ClientSession() as session:
        url = sandbox.urls["fitnessforce"]
        yield Upstream(url, sandbox.apps["fitnessforce"][STATE], session)


@pytest.fixture
async def up(upstream_session: Upstream, conn: FitnessForceConnector) -> AsyncIterator[Upstream]:
    await conn.tenants()  # holds a live token before counting starts
    await upstream_session.clear()
    yield upstream_session
    await upstream_session.clear()


def ikey(row: JSON) -> Key:
    return invoice_key(str(row["tenant_id"]), row["client_id"], row["invoice_id"])


def skey(row: JSON) -> Key:
    return subscription_key(str(row["tenant_id"]), row["client_id"], row["subscription_id"])


def ipath(row: JSON) -> str:
    return f"/tenant/{row['tenant_id']}/clients/{row['client_id']}/invoices/{row['invoice_id']}"


def spath(row: JSON) -> str:
    return (
        f"/tenant/{row['tenant_id']}/clients/{row['client_id']}"
        f"/subscriptions/{row['subscription_id']}"
    )


def codes(errors: Any) -> list[tuple[tuple[str, ...], ErrorCode, str | None]]:
    return [(e.field, e.code, e.source_code) for e in errors]


def unpaid(up: Upstream, *, email: bool = True, mobile: bool = True) -> JSON:
    def keep(inv: JSON) -> bool:
        client = up.client(inv)
        return (
            inv["status"] == "Unpaid"
            and inv["paid_amount"] == 0
            and inv["balance_amount"] > 0
            and bool(client["email"]) is email
            and bool(client["mobile_number"]) is mobile
        )

    return up.pick("invoice", keep)


def membership(
    up: Upstream, *statuses: str, freezes: bool = False, end: bool | None = None
) -> JSON:
    def keep(sub: JSON) -> bool:
        live = [f for f in sub["freezes"] if f["status"] in ("Scheduled", "Active")]
        return (
            sub["subscription_status"] in statuses
            and bool(live) is freezes
            and (end is None or bool(sub["end_date"]) is end)
        )

    return up.pick("subscription", keep)


def cmd(row: JSON, op: Op, **kw: Any) -> SubscriptionCommand:
    return SubscriptionCommand(skey(row), op, **kw)


# --- capabilities and unsupported operations -----------------------------------------


async def test_capabilities_are_exactly_the_supported_writes(conn: FitnessForceConnector) -> None:
    assert conn.capabilities == {
        Capability.SEND_INVOICE,
        Capability.VOID_INVOICE,
        Capability.SEND_INVOICE_BALANCE_LINK,
        *SUBSCRIPTION_CAPABILITY.values(),
    }


async def test_unsupported_writes_raise_not_supported_without_requests(
    conn: FitnessForceConnector, up: Upstream
) -> None:
    inv = ikey(unpaid(up))
    line = Key(EntityType.INVOICE_ITEM, Source.FITNESSFORCE, inv.tenant, inv.id + "/1")
    attempts = {
        Capability.CREATE_INVOICE: conn.create_invoice(
            CreateInvoice(lines=[LineInput("x", Decimal(1), Decimal(1))])
        ),
        Capability.UPDATE_INVOICE: conn.update_invoice(UpdateInvoice(inv, note="x")),
        Capability.DELETE_INVOICE: conn.delete_invoice(inv),
        Capability.ADD_INVOICE_ITEMS: conn.add_invoice_items(
            inv, [LineInput("x", Decimal(1), Decimal(1))]
        ),
        Capability.UPDATE_INVOICE_ITEM: conn.update_invoice_item(
            line, LineChange(quantity=Decimal(2))
        ),
        Capability.REMOVE_INVOICE_ITEM: conn.remove_invoice_item(line),
    }
    for capability, attempt in attempts.items():
        assert capability not in conn.capabilities
        with pytest.raises(NotSupported) as info:
            await attempt
        assert info.value.capability is capability
        assert codes(info.value.errors) == [((), ErrorCode.NOT_SUPPORTED, None)]
    assert await up.calls() == []


# --- invoices -------------------------------------------------------------------------


async def test_send_invoice_emails_the_pdf_and_returns_the_fresh_invoice(
    conn: FitnessForceConnector, up: Upstream
) -> None:
    row = unpaid(up)
    result = await conn.send_invoice(ikey(row))
    assert result.channels == (ChannelResult(Channel.EMAIL, True, None),)
    log = result.invoice.raw["communication_log"]
    assert (log[-1]["type"], log[-1]["channel"]) == ("InvoicePdf", "Email")
    assert result.invoice.items
    assert result.invoice.items[0].invoice_key == ikey(row)
    assert await up.calls() == [
        ("POST", ipath(row) + "/send_invoice_pdf"),
        ("GET", ipath(row)),
    ]
    [reread] = await conn.invoices([ikey(row)])
    assert reread is not None
    assert reread.raw["communication_log"] == log


async def test_send_invoice_to_a_client_without_email_is_refused(
    conn: FitnessForceConnector, up: Upstream
) -> None:
    row = unpaid(up, email=False)
    with pytest.raises(WriteRejected) as info:
        await conn.send_invoice(ikey(row))
    assert codes(info.value.errors) == [((), ErrorCode.CONTACT_REQUIRED, "ClientEmailMissing")]
    # Nothing went out, so nothing is read back.
    assert await up.calls() == [("POST", ipath(row) + "/send_invoice_pdf")]
    assert row["communication_log"] == []


async def test_void_invoice_returns_the_voided_invoice_with_lines(
    conn: FitnessForceConnector, up: Upstream
) -> None:
    row = unpaid(up)
    result = await conn.void_invoice(ikey(row), "  Duplicate  ")
    assert (result.invoice.status, result.invoice.balance_due.amount) == (InvoiceStatus.VOID, 0)
    assert result.invoice.raw["void_reason"] == "Duplicate"
    assert len(result.invoice.items) == len(row["invoice_details"])
    assert await up.calls() == [("POST", ipath(row) + "/void")]
    [reread] = await conn.invoices([ikey(row)])
    assert reread is not None
    assert reread.status is InvoiceStatus.VOID

    with pytest.raises(WriteRejected) as info:
        await conn.void_invoice(ikey(row), "again")
    assert codes(info.value.errors) == [((), ErrorCode.ALREADY_DONE, "InvoiceAlreadyVoid")]


async def test_void_invoice_with_payments_is_refused(
    conn: FitnessForceConnector, up: Upstream
) -> None:
    row = up.pick("invoice", lambda inv: inv["status"] == "PartiallyPaid")
    with pytest.raises(WriteRejected) as info:
        await conn.void_invoice(ikey(row), "x")
    assert codes(info.value.errors) == [((), ErrorCode.INVALID_STATE, "InvoiceHasPayments")]
    assert row["status"] == "PartiallyPaid"


async def test_balance_link_reports_each_channel_and_returns_the_fresh_invoice(
    conn: FitnessForceConnector, up: Upstream
) -> None:
    row = unpaid(up, mobile=False)
    result = await conn.send_invoice_balance_link(
        ikey(row), [Channel.EMAIL, Channel.SMS, Channel.TASK]
    )
    sms_error = UserError(
        ("channels", "1"), ErrorCode.CONTACT_REQUIRED, "client has no mobile", "ClientMobileMissing"
    )
    assert result.channels == (
        ChannelResult(Channel.EMAIL, True, None),
        ChannelResult(Channel.SMS, False, sms_error),
        ChannelResult(Channel.TASK, True, None),
    )
    sent = [(c["type"], c["channel"]) for c in result.invoice.raw["communication_log"]]
    assert sent == [("ClearBalanceLink", "Email"), ("ClearBalanceLink", "Task")]
    [reread] = await conn.invoices([ikey(row)])
    assert reread is not None
    assert reread.raw["communication_log"] == result.invoice.raw["communication_log"]


async def test_balance_link_on_a_settled_invoice_is_refused(
    conn: FitnessForceConnector, up: Upstream
) -> None:
    row = up.pick("invoice", lambda inv: inv["status"] == "Paid")
    with pytest.raises(WriteRejected) as info:
        await conn.send_invoice_balance_link(ikey(row), [Channel.NONE])
    assert codes(info.value.errors) == [((), ErrorCode.INVALID_STATE, "InvoiceHasNoBalance")]
    assert await up.calls() == [("POST", ipath(row) + "/send_invoice_clear_balance_link")]


async def test_unknown_invoices_are_not_found(conn: FitnessForceConnector, up: Upstream) -> None:
    row = unpaid(up)
    cases = {
        "InvoiceNotFound": invoice_key(str(row["tenant_id"]), row["client_id"], 1),
        "ClientNotFound": invoice_key(str(row["tenant_id"]), 1, row["invoice_id"]),
        "TenantNotFound": invoice_key("999", row["client_id"], row["invoice_id"]),
    }
    for source_code, key in cases.items():
        with pytest.raises(WriteRejected) as info:
            await conn.void_invoice(key, "x")
        assert codes(info.value.errors) == [(("key",), ErrorCode.NOT_FOUND, source_code)]


# --- subscriptions --------------------------------------------------------------------


async def test_cancel_then_reactivate(conn: FitnessForceConnector, up: Upstream) -> None:
    row = membership(up, "Active", end=False)
    later = TODAY + timedelta(days=30)
    result = await conn.change_subscription(cmd(row, Op.CANCEL, on=later, reason="Moving"))
    sub = result.subscription
    assert (sub.status_raw, sub.status, sub.ends_at.date()) == (
        "PendingCancellation",
        SubscriptionStatus.ACTIVE,
        later,
    )
    assert await up.calls() == [("POST", spath(row) + "/cancel")]
    [reread] = await conn.subscriptions([skey(row)])
    assert reread is not None
    assert reread.raw["cancellation"] == {
        "cancellation_date": later.isoformat(),
        "reason": "Moving",
    }

    result = await conn.change_subscription(cmd(row, Op.REACTIVATE))
    assert (result.subscription.status_raw, result.subscription.ends_at) == ("Active", None)
    [reread] = await conn.subscriptions([skey(row)])
    assert reread is not None
    assert reread.raw["cancellation"] is None

    with pytest.raises(WriteRejected) as info:
        await conn.change_subscription(cmd(row, Op.REACTIVATE))
    assert codes(info.value.errors) == [((), ErrorCode.INVALID_STATE, "SubscriptionNotCancelled")]


async def test_cancel_today_and_cancel_before_start(
    conn: FitnessForceConnector, up: Upstream
) -> None:
    row = membership(up, "Active")
    with pytest.raises(WriteRejected) as info:
        await conn.change_subscription(cmd(row, Op.CANCEL, on=date(1999, 1, 1), reason="x"))
    assert codes(info.value.errors) == [(("on",), ErrorCode.INVALID, "InvalidCancellationDate")]
    result = await conn.change_subscription(cmd(row, Op.CANCEL, reason="Moving"))
    assert result.subscription.status is SubscriptionStatus.CANCELLED
    with pytest.raises(WriteRejected) as info:
        await conn.change_subscription(cmd(row, Op.FREEZE, **_freeze(FUTURE)))
    assert codes(info.value.errors) == [((), ErrorCode.INVALID_STATE, "SubscriptionNotActive")]
    with pytest.raises(WriteRejected) as info:
        await conn.change_subscription(cmd(row, Op.CHANGE_START, on=TODAY))
    assert codes(info.value.errors) == [((), ErrorCode.INVALID_STATE, "SubscriptionNotEditable")]


async def test_change_start_and_end_dates(conn: FitnessForceConnector, up: Upstream) -> None:
    row = membership(up, "Active", end=True)
    start = date.fromisoformat(row["start_date"])
    end = date.fromisoformat(row["end_date"])
    result = await conn.change_subscription(cmd(row, Op.CHANGE_END, on=end + timedelta(days=31)))
    assert result.subscription.ends_at.date() == end + timedelta(days=31)
    result = await conn.change_subscription(cmd(row, Op.CHANGE_START, on=start - timedelta(days=1)))
    assert result.subscription.starts_at.date() == start - timedelta(days=1)
    [reread] = await conn.subscriptions([skey(row)])
    assert reread is not None
    assert (reread.starts_at, reread.ends_at) == (
        result.subscription.starts_at,
        result.subscription.ends_at,
    )
    assert await up.calls() == [
        ("PUT", spath(row) + "/end_date"),
        ("PUT", spath(row) + "/start_date"),
        ("GET", spath(row)),
    ]
    with pytest.raises(WriteRejected) as info:
        await conn.change_subscription(cmd(row, Op.CHANGE_END, on=date(1999, 1, 1)))
    assert codes(info.value.errors) == [(("on",), ErrorCode.INVALID, "EndDateBeforeStartDate")]
    with pytest.raises(WriteRejected) as info:
        await conn.change_subscription(cmd(row, Op.CHANGE_START, on=FUTURE))
    assert codes(info.value.errors) == [(("on",), ErrorCode.INVALID, "StartDateAfterEndDate")]


async def test_void_subscription(conn: FitnessForceConnector, up: Upstream) -> None:
    row = membership(up, "Pending")
    result = await conn.change_subscription(cmd(row, Op.VOID, reason="Signed up twice"))
    assert result.subscription.status is SubscriptionStatus.VOID
    [reread] = await conn.subscriptions([skey(row)])
    assert reread is not None
    assert reread.raw["void"]["void_reason"] == "Signed up twice"
    with pytest.raises(WriteRejected) as info:
        await conn.change_subscription(cmd(row, Op.VOID, reason="again"))
    assert codes(info.value.errors) == [((), ErrorCode.ALREADY_DONE, "SubscriptionAlreadyVoid")]


def _freeze(start: date, days: int = 14, reason: str = "Travel") -> dict[str, Any]:
    return {"from_date": start, "until_date": start + timedelta(days=days), "reason": reason}


def _freezes(sub: Any) -> list[tuple[str, str, str]]:
    return [(f["freeze_start_date"], f["freeze_end_date"], f["status"]) for f in sub.raw["freezes"]]


async def test_schedule_then_cancel_a_freeze(conn: FitnessForceConnector, up: Upstream) -> None:
    row = membership(up, "Active")
    start = TODAY + timedelta(days=20)
    result = await conn.change_subscription(cmd(row, Op.FREEZE, **_freeze(start)))
    until = (start + timedelta(days=14)).isoformat()
    assert _freezes(result.subscription)[-1] == (start.isoformat(), until, "Scheduled")
    assert result.subscription.status is SubscriptionStatus.ACTIVE
    assert await up.calls() == [("POST", spath(row) + "/freezes"), ("GET", spath(row))]

    with pytest.raises(WriteRejected) as info:
        await conn.change_subscription(cmd(row, Op.FREEZE, **_freeze(start + timedelta(days=1))))
    assert codes(info.value.errors) == [(("from_date",), ErrorCode.INVALID, "FreezeOverlap")]
    with pytest.raises(WriteRejected) as info:
        await conn.change_subscription(cmd(row, Op.STOP_FREEZE))
    assert codes(info.value.errors) == [((), ErrorCode.INVALID_STATE, None)]
    with pytest.raises(WriteRejected) as info:
        await conn.change_subscription(cmd(row, Op.CANCEL_FREEZE, from_date=FUTURE))
    assert codes(info.value.errors) == [(("from_date",), ErrorCode.NOT_FOUND, None)]
    scheduled = row["freezes"][-1]["freeze_id"]
    with pytest.raises(WriteRejected) as info:
        await conn.change_subscription(cmd(row, Op.STOP_FREEZE, extra={"freeze_id": scheduled}))
    assert codes(info.value.errors) == [((), ErrorCode.INVALID_STATE, "FreezeNotActive")]

    await up.clear()
    result = await conn.change_subscription(cmd(row, Op.CANCEL_FREEZE, from_date=start))
    assert _freezes(result.subscription)[-1] == (start.isoformat(), until, "Cancelled")
    assert await up.calls() == [
        ("GET", spath(row)),
        ("POST", f"{spath(row)}/freezes/{scheduled}/cancel"),
        ("GET", spath(row)),
    ]
    [reread] = await conn.subscriptions([skey(row)])
    assert reread is not None
    assert _freezes(reread) == _freezes(result.subscription)
    with pytest.raises(WriteRejected) as info:
        await conn.change_subscription(cmd(row, Op.CANCEL_FREEZE, extra={"freeze_id": scheduled}))
    assert codes(info.value.errors) == [((), ErrorCode.INVALID_STATE, "FreezeNotScheduled")]
    with pytest.raises(WriteRejected) as info:
        await conn.change_subscription(cmd(row, Op.CANCEL_FREEZE, extra={"freeze_id": 1}))
    assert codes(info.value.errors) == [
        (("extra", "freeze_id"), ErrorCode.NOT_FOUND, "FreezeNotFound")
    ]


async def test_freeze_now_then_stop_it(conn: FitnessForceConnector, up: Upstream) -> None:
    row = membership(up, "Active")
    result = await conn.change_subscription(
        cmd(row, Op.FREEZE, **_freeze(TODAY - timedelta(days=2), days=30))
    )
    assert result.subscription.status is SubscriptionStatus.FROZEN
    assert _freezes(result.subscription)[-1][2] == "Active"
    result = await conn.change_subscription(cmd(row, Op.STOP_FREEZE))
    assert result.subscription.status is SubscriptionStatus.ACTIVE
    assert _freezes(result.subscription)[-1][1:] == (TODAY.isoformat(), "Stopped")
    [reread] = await conn.subscriptions([skey(row)])
    assert reread is not None
    assert reread.status is SubscriptionStatus.ACTIVE


async def test_unknown_subscriptions_are_not_found(
    conn: FitnessForceConnector, up: Upstream
) -> None:
    row = membership(up, "Active")
    key = subscription_key(str(row["tenant_id"]), row["client_id"], 1)
    with pytest.raises(WriteRejected) as info:
        await conn.change_subscription(SubscriptionCommand(key, Op.REACTIVATE))
    assert codes(info.value.errors) == [(("key",), ErrorCode.NOT_FOUND, "SubscriptionNotFound")]


# --- pre-checks: zero requests, and UFP refuses the same mistakes the same way ---------


def _raw_codes(errors: Any) -> list[tuple[tuple[str, ...], ErrorCode]]:
    return [(e.field, e.code) for e in user_errors(errors)]


def _pre_codes(errors: Any) -> list[tuple[tuple[str, ...], ErrorCode]]:
    assert all(e.source_code is None for e in errors)
    return [(e.field, e.code) for e in errors]


async def test_invoice_pre_checks_cost_no_requests_and_match_ufp(
    conn: FitnessForceConnector, up: Upstream
) -> None:
    row = unpaid(up)
    with pytest.raises(WriteRejected) as missing:
        await conn.void_invoice(ikey(row), "  ")
    with pytest.raises(WriteRejected) as channel:
        await conn.send_invoice_balance_link(ikey(row), [Channel.EMAIL, "Pigeon"])  # type: ignore[list-item]
    bad_key = Key(EntityType.INVOICE, Source.FITNESSFORCE, "101", f"{row['client_id']}/abc")
    with pytest.raises(WriteRejected) as key:
        await conn.void_invoice(bad_key, "x")
    not_ours = Key(EntityType.INVOICE, Source.TIMETAP, "101", ikey(row).id)
    with pytest.raises(WriteRejected) as foreign:
        await conn.send_invoice(not_ours)
    assert await up.calls() == []

    assert _pre_codes(missing.value.errors) == [(("reason",), ErrorCode.REQUIRED)]
    assert _raw_codes(await up.raw("POST", ipath(row) + "/void", {"reason": " "})) == (
        _pre_codes(missing.value.errors)
    )
    assert _pre_codes(channel.value.errors) == [(("channels",), ErrorCode.INVALID)]
    link = ipath(row) + "/send_invoice_clear_balance_link"
    assert _raw_codes(await up.raw("POST", link, ["Email", "Pigeon"])) == (
        _pre_codes(channel.value.errors)
    )
    assert _pre_codes(key.value.errors) == [(("key",), ErrorCode.NOT_FOUND)]
    bad_path = f"/tenant/101/clients/{row['client_id']}/invoices/abc/void"
    assert _raw_codes(await up.raw("POST", bad_path, {"reason": "x"})) == (
        _pre_codes(key.value.errors)
    )
    assert _pre_codes(foreign.value.errors) == [(("key",), ErrorCode.NOT_FOUND)]
    assert row["status"] == "Unpaid"


async def test_subscription_pre_checks_cost_no_requests_and_match_ufp(
    conn: FitnessForceConnector, up: Upstream
) -> None:
    row = membership(up, "Active")
    path = spath(row)
    # (command, what the connector refuses, the same mistake sent to UFP directly)
    cases: list[tuple[SubscriptionCommand, list[Any], tuple[str, str, Any] | None]] = [
        (
            cmd(row, Op.FREEZE, from_date=FUTURE, until_date=FUTURE, reason="x"),
            [(("until_date",), ErrorCode.INVALID)],
            (
                "POST",
                "/freezes",
                {"freeze_start_date": "2099-01-01", "freeze_end_date": "2099-01-01", "reason": "x"},
            ),
        ),
        (
            cmd(row, Op.FREEZE, until_date=FUTURE, reason="x"),
            [(("from_date",), ErrorCode.REQUIRED)],
            ("POST", "/freezes", {"freeze_end_date": "2099-01-01", "reason": "x"}),
        ),
        (
            cmd(row, Op.FREEZE, from_date=FUTURE, reason="x"),
            [(("until_date",), ErrorCode.REQUIRED)],
            ("POST", "/freezes", {"freeze_start_date": "2099-01-01", "reason": "x"}),
        ),
        (
            cmd(row, Op.FREEZE, from_date=FUTURE, until_date=date(2099, 2, 1)),
            [(("reason",), ErrorCode.REQUIRED)],
            (
                "POST",
                "/freezes",
                {"freeze_start_date": "2099-01-01", "freeze_end_date": "2099-02-01"},
            ),
        ),
        (
            cmd(row, Op.CANCEL),
            [(("reason",), ErrorCode.REQUIRED)],
            ("POST", "/cancel", {"cancellation_date": "2099-01-01"}),
        ),
        (
            cmd(row, Op.VOID, reason=""),
            [(("reason",), ErrorCode.REQUIRED)],
            ("POST", "/void", {"reason": ""}),
        ),
        (cmd(row, Op.CHANGE_START), [(("on",), ErrorCode.REQUIRED)], ("PUT", "/start_date", {})),
        (cmd(row, Op.CHANGE_END), [(("on",), ErrorCode.REQUIRED)], ("PUT", "/end_date", {})),
        # Fields UFP would silently drop are refused instead; UFP has no code for them.
        (cmd(row, Op.REACTIVATE, on=TODAY), [(("on",), ErrorCode.INVALID)], None),
        (cmd(row, Op.STOP_FREEZE, on=TODAY), [(("on",), ErrorCode.INVALID)], None),
        (
            cmd(row, Op.VOID, reason="x", until_date=FUTURE),
            [(("until_date",), ErrorCode.INVALID)],
            None,
        ),
        (
            cmd(row, Op.CANCEL, reason="x", extra={"fee": 1}),
            [(("extra", "fee"), ErrorCode.INVALID)],
            None,
        ),
        (
            cmd(row, Op.CANCEL_FREEZE, extra={"freeze_id": "x"}),
            [(("extra", "freeze_id"), ErrorCode.NOT_FOUND)],
            ("POST", "/freezes/x/cancel", None),
        ),
        (
            SubscriptionCommand(
                Key(EntityType.INVOICE, Source.FITNESSFORCE, "101", skey(row).id), Op.REACTIVATE
            ),
            [(("key",), ErrorCode.NOT_FOUND)],
            None,
        ),
    ]
    refused = []
    for command, expected, _ in cases:
        with pytest.raises(WriteRejected) as info:
            await conn.change_subscription(command)
        assert _pre_codes(info.value.errors) == expected, command
        refused.append(info.value.errors)
    # Several mistakes at once are all reported.
    with pytest.raises(WriteRejected) as info:
        await conn.change_subscription(cmd(row, Op.FREEZE, until_date=FUTURE, on=TODAY))
    assert _pre_codes(info.value.errors) == [
        (("on",), ErrorCode.INVALID),
        (("from_date",), ErrorCode.REQUIRED),
        (("reason",), ErrorCode.REQUIRED),
    ]
    with pytest.raises(WriteRejected) as info:
        await conn.change_subscription(cmd(row, Op.FREEZE, from_date=FUTURE, until_date=TODAY))
    assert _pre_codes(info.value.errors) == [
        (("until_date",), ErrorCode.INVALID),
        (("reason",), ErrorCode.REQUIRED),
    ]
    assert await up.calls() == []

    # The same mistakes sent to UFP directly map to the same codes and fields.
    for (_, expected, direct), errors in zip(cases, refused, strict=True):
        assert _pre_codes(errors) == expected
        if direct is not None:
            method, tail, body = direct
            assert _raw_codes(await up.raw(method, path + tail, body)) == expected, tail
    assert row["subscription_status"] == "Active"


async def test_malformed_requests_map_through_the_table(up: Upstream) -> None:
    row = membership(up, "Active")
    path = spath(row)
    assert _raw_codes(await up.raw("PUT", path + "/end_date", {"end_date": "31/12/2027"})) == [
        (("on",), ErrorCode.INVALID)
    ]
    assert _raw_codes(await up.raw("POST", path + "/void", data="{not json")) == [
        ((), ErrorCode.INVALID)
    ]


async def test_every_sandbox_write_code_is_in_the_table() -> None:
    root = pathlib.Path(ff_sandbox.__file__).parent
    raised: set[str] = set()
    for module in ("invoices.py", "memberships.py", "responses.py"):
        text = (root / module).read_text()
        raised |= set(re.findall(r'UfpError\(\s*\d+,\s*"(\w+)"', text))
        raised |= set(re.findall(r'validation_error\(\s*"(\w+)"', text))
        raised |= set(re.findall(r'_require\(\s*sub,\s*\([^)]*\),\s*"(\w+)"\)', text))
    # Codes only a list, a sales rep change or auth can raise: no write of the contract.
    reads = {
        "InvalidSortField",
        "InvalidPageSize",
        "InvalidPageNumber",
        "InvalidBoolean",
        "InvalidSortOrder",
        "InvalidStatus",
        "PlanNotFound",
        "StaffNotFound",
    }
    assert raised - reads == set(ERRORS)


async def test_an_unknown_ufp_code_keeps_its_code(
    conn: FitnessForceConnector, up: Upstream
) -> None:
    # The identifier still points at the field when it names one.
    assert user_error(
        {"errorCode": "BrandNewRule", "errorMessage": "new", "identifier": "reason"}
    ) == UserError(("reason",), ErrorCode.UNKNOWN, "new", "BrandNewRule")
    assert user_error({"errorCode": "BrandNewRule", "errorMessage": "new"}) == UserError(
        (), ErrorCode.UNKNOWN, "new", "BrandNewRule"
    )
    row = membership(up, "Active")
    body = {"errors": [{"severity": "Error", "errorCode": "BrandNewRule", "errorMessage": "no"}]}
    await up.fault(spath(row) + "/void$", status=409, body=body)
    with pytest.raises(WriteRejected) as info:
        await conn.change_subscription(cmd(row, Op.VOID, reason="x"))
    assert codes(info.value.errors) == [((), ErrorCode.UNKNOWN, "BrandNewRule")]
    assert row["subscription_status"] == "Active"


# --- several calls: complete or undo ---------------------------------------------------


async def test_a_failed_read_back_undoes_a_scheduled_freeze(
    conn: FitnessForceConnector, up: Upstream
) -> None:
    row = membership(up, "Active")
    await up.fault(spath(row) + "$", method="GET", status=503)
    with pytest.raises(UpstreamUnavailable):
        await conn.change_subscription(cmd(row, Op.FREEZE, **_freeze(FUTURE)))
    freeze = row["freezes"][-1]
    assert (freeze["freeze_start_date"], freeze["status"]) == ("2099-01-01", "Cancelled")
    assert await up.calls() == [
        ("POST", spath(row) + "/freezes"),
        ("GET", spath(row)),
        ("POST", f"{spath(row)}/freezes/{freeze['freeze_id']}/cancel"),
    ]
    # Undone, so the same freeze can be asked for again.
    result = await conn.change_subscription(cmd(row, Op.FREEZE, **_freeze(FUTURE)))
    assert _freezes(result.subscription)[-1] == ("2099-01-01", "2099-01-15", "Scheduled")


async def test_a_freeze_that_cannot_be_undone_is_a_partial_write(
    conn: FitnessForceConnector, up: Upstream
) -> None:
    row = membership(up, "Active")
    await up.fault(spath(row) + "$", method="GET", status=503)
    await up.fault(spath(row) + r"/freezes/\d+/cancel$", status=503)
    with pytest.raises(PartialWrite) as info:
        await conn.change_subscription(cmd(row, Op.FREEZE, **_freeze(FUTURE)))
    assert info.value.created == (skey(row),)
    assert isinstance(info.value.cause, UpstreamUnavailable)
    assert row["freezes"][-1]["status"] == "Scheduled"

    # A freeze that has begun cannot be cancelled: nothing to undo it with.
    other = membership(up, "Active")
    await up.fault(spath(other) + "$", method="GET", status=503)
    with pytest.raises(PartialWrite) as info:
        await conn.change_subscription(cmd(other, Op.FREEZE, **_freeze(TODAY)))
    assert info.value.created == (skey(other),)
    assert other["subscription_status"] == "Frozen"


async def test_a_failed_read_back_undoes_a_freeze_cancellation(
    conn: FitnessForceConnector, up: Upstream
) -> None:
    row = membership(up, "Active")
    start = TODAY + timedelta(days=40)
    await conn.change_subscription(cmd(row, Op.FREEZE, **_freeze(start, reason="Surgery")))
    await up.clear()
    # The first GET finds the freeze; the read back after the cancel fails.
    await up.fault(spath(row) + "$", method="GET", status=503, skip=1)
    with pytest.raises(UpstreamUnavailable):
        await conn.change_subscription(cmd(row, Op.CANCEL_FREEZE))
    cancelled, again = row["freezes"][-2:]
    assert (cancelled["status"], again["status"]) == ("Cancelled", "Scheduled")
    assert (again["freeze_start_date"], again["freeze_end_date"], again["reason"]) == (
        cancelled["freeze_start_date"],
        cancelled["freeze_end_date"],
        "Surgery",
    )
    assert [m for m, _ in await up.calls()] == ["GET", "POST", "GET", "POST"]


async def test_a_stopped_freeze_that_cannot_be_read_back_is_a_partial_write(
    conn: FitnessForceConnector, up: Upstream
) -> None:
    row = membership(up, "Active")
    await conn.change_subscription(cmd(row, Op.FREEZE, **_freeze(TODAY)))
    await up.fault(spath(row) + "$", method="GET", status=503, skip=1)
    with pytest.raises(PartialWrite) as info:
        await conn.change_subscription(cmd(row, Op.STOP_FREEZE))
    assert info.value.created == (skey(row),)
    assert row["freezes"][-1]["status"] == "Stopped"


async def test_a_send_that_cannot_be_read_back_is_a_partial_write(
    conn: FitnessForceConnector, up: Upstream
) -> None:
    row = unpaid(up)
    await up.fault(ipath(row) + "$", method="GET", status=503)
    with pytest.raises(PartialWrite) as info:
        await conn.send_invoice(ikey(row))
    assert info.value.created == (ikey(row),)
    assert [c["type"] for c in row["communication_log"]] == ["InvoicePdf"]

    # A link that went out on no channel changed nothing: the failure is the read's.
    no_email = unpaid(up, email=False)
    await up.fault(ipath(no_email) + "$", method="GET", status=503)
    with pytest.raises(UpstreamUnavailable):
        await conn.send_invoice_balance_link(ikey(no_email), [Channel.EMAIL])


async def test_an_upstream_outage_on_the_write_itself_is_raised(
    conn: FitnessForceConnector, up: Upstream
) -> None:
    row = unpaid(up)
    await up.fault(ipath(row) + "/void$", status=502)
    with pytest.raises(UpstreamUnavailable):
        await conn.void_invoice(ikey(row), "x")
    assert row["status"] == "Unpaid"
