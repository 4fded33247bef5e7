"""Tight writes against the sandbox over loopback: results, rules, refusals, undo."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest

from clubgraph.commands import (
    SUBSCRIPTION_CAPABILITY,
    Address,
    Capability,
    Channel,
    CreateInvoice,
    ErrorCode,
    LineChange,
    LineInput,
    NotSupported,
    PartialWrite,
    Recipient,
    SubscriptionCommand,
    SubscriptionOp,
    UpdateInvoice,
    UserError,
    WriteRejected,
)
from clubgraph.connectors.tight import DEV_CREDENTIALS, TightConnector
from clubgraph.connectors.tight.auth import parse_errors
from clubgraph.connectors.tight.rejections import CODES, user_error, user_errors
from clubgraph.connectors.tight.writes import create_body
from clubgraph.domain import EntityType, InvoiceStatus, Key, Money, Source
from clubgraph.errors import SourceErrorDetail, UpstreamConflict, UpstreamUnavailable
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox
from clubgraph.sandbox.tight.state import STATE

TENANT = "7001"
DRAFT_PATH = "/v5/invoicing/invoice"
SEND_PATH = "/v5/invoicing/invoice/send"
CANCEL_PATH = "/v5/invoicing/invoice/cancel"


def key(kind: EntityType, ident: object, tenant: str = TENANT) -> Key:
    return Key(kind, Source.TIGHT, tenant, str(ident))


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["tight"])
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def tight(sandbox: RunningSandbox) -> AsyncIterator[TightConnector]:
    connector = TightConnector(sandbox.urls["tight"], DEV_CREDENTIALS)
    await connector.start()
    # The token and the business list are fetched once; no write test pays for them.
    await connector.tenants()
    yield connector
    await connector.close()


@pytest.fixture(scope="module")
async def control(sandbox: RunningSandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sandbox.urls["tight"]) as session:
        yield session


@pytest.fixture(scope="module")
async def auth(control: aiohttp.ClientSession) -> dict[str, str]:
    form = {
        "client_id": DEV_CREDENTIALS.client_id,
        "client_secret": DEV_CREDENTIALS.client_secret,
        "grant_type": "client_credentials",
    }
    async with control.post("/v5/auth/token", data=form) as resp:
        body = await resp.json()
    return {"Authorization": f"Bearer {body['access_token']}"}


@pytest.fixture(autouse=True)
async def fresh_log(control: aiohttp.ClientSession) -> AsyncIterator[None]:
    async with control.delete("/__sandbox/faults"), control.delete("/__sandbox/requests"):
        pass
    yield
    async with control.delete("/__sandbox/faults"):
        pass


async def requests(control: aiohttp.ClientSession) -> list[tuple[str, str, int]]:
    async with control.get("/__sandbox/requests") as resp:
        log: list[dict[str, Any]] = await resp.json()
    return [(e["method"], e["path"], e["status"]) for e in log]


async def fault(control: aiohttp.ClientSession, **spec: Any) -> None:
    async with control.post("/__sandbox/faults", json=spec) as resp:
        assert resp.status == 204


def state(sandbox: RunningSandbox) -> Any:
    return sandbox.apps["tight"][STATE]


def a_client(sandbox: RunningSandbox) -> Key:
    return key(EntityType.CLIENT, min(state(sandbox).clients))


def an_invoice(sandbox: RunningSandbox, status: str, paid: bool | None = None) -> Key:
    for invoice in state(sandbox).invoices.values():
        if invoice["status"] != status or invoice["isRecurringParent"]:
            continue
        if paid is None or bool(invoice["amountPaid"]) is paid:
            return key(EntityType.INVOICE, invoice["id"])
    raise AssertionError(f"no {status} invoice in the seed")


def command(client: Key | None, /, **changes: Any) -> CreateInvoice:
    lines = [
        LineInput("Drop-in class", Decimal("2"), Decimal("19.99"), line_id="ext-1"),
        LineInput("Towel service", Decimal("1"), Decimal("0.30"), tax_rate=Decimal("8.875")),
    ]
    return replace(CreateInvoice(lines=lines, client=client), **changes)


async def rejected(call: Awaitable[Any]) -> tuple[UserError, ...]:
    with pytest.raises(WriteRejected) as caught:
        await call
    return caught.value.errors


def found(errors: tuple[UserError, ...]) -> set[tuple[tuple[str, ...], ErrorCode, str | None]]:
    return {(e.field, e.code, e.source_code) for e in errors}


# --- results ---------------------------------------------------------------------------


def test_capabilities_are_exactly_the_supported_writes() -> None:
    assert TightConnector.capabilities == {
        Capability.CREATE_INVOICE,
        Capability.UPDATE_INVOICE,
        Capability.SEND_INVOICE,
        Capability.VOID_INVOICE,
    }


async def test_create_draft_in_one_call_returns_it_as_stored(
    tight: TightConnector, sandbox: RunningSandbox, control: aiohttp.ClientSession
) -> None:
    cmd = command(
        a_client(sandbox),
        issued_on=date(2026, 9, 1),
        due_on=date(2026, 9, 20),
        note="Thank you",
        discount_percent=Decimal("10"),
        accept_cash=True,
        custom_json='{"crm": "A-17"}',
    )
    result = await tight.create_invoice(cmd)
    assert await requests(control) == [("POST", DRAFT_PATH, 200)]
    invoice = result.invoice
    usd = "USD"
    # 2 x 19.99 + 0.30 = 40.28; 10% off = 4.03 (half up); tax 8.875% of 0.30 = 0.03.
    assert (invoice.status, invoice.client_key, invoice.note) == (
        InvoiceStatus.DRAFT,
        cmd.client,
        "Thank you",
    )
    assert (invoice.subtotal, invoice.discount, invoice.tax, invoice.total) == (
        Money(Decimal("40.28"), usd),
        Money(Decimal("4.03"), usd),
        Money(Decimal("0.03"), usd),
        Money(Decimal("36.28"), usd),
    )
    assert invoice.due_at is not None
    assert invoice.due_at.date() == date(2026, 9, 20)
    assert invoice.issued_at.date() == date(2026, 9, 1)
    assert invoice.items is not None
    assert [(i.description, i.quantity, i.unit_price.amount) for i in invoice.items] == [
        ("Drop-in class", Decimal("2"), Decimal("19.99")),
        ("Towel service", Decimal("1"), Decimal("0.30")),
    ]
    stored = state(sandbox).invoices[int(invoice.key.id)]
    assert (stored["customData"], stored["acceptCash"], stored["term"]) == (
        '{"crm": "A-17"}',
        True,
        "OTHER",
    )
    assert stored["lineItems"][0]["apiItemId"] == "ext-1"
    assert await tight.invoices([invoice.key]) == [invoice]


async def test_create_and_send_makes_two_calls_and_the_read_shows_it_sent(
    tight: TightConnector, sandbox: RunningSandbox, control: aiohttp.ClientSession
) -> None:
    result = await tight.create_invoice(command(a_client(sandbox), send=True))
    assert await requests(control) == [("POST", DRAFT_PATH, 200), ("POST", SEND_PATH, 200)]
    assert result.invoice.status is InvoiceStatus.OPEN
    assert result.invoice.total == Money(Decimal("40.31"), "USD")
    [read] = await tight.invoices([result.invoice.key])
    assert read == result.invoice


async def test_update_a_draft_then_send_it_then_no_more_changes(
    tight: TightConnector, sandbox: RunningSandbox, control: aiohttp.ClientSession
) -> None:
    draft = (await tight.create_invoice(command(a_client(sandbox)))).invoice
    change = UpdateInvoice(
        draft.key,
        number="TFS-4242",
        due_on=date(2026, 12, 24),
        note="Season pass",
        recipient=Recipient(email="billing@example.org"),
    )
    updated = (await tight.update_invoice(change)).invoice
    assert (updated.number, updated.note, updated.status) == (
        "TFS-4242",
        "Season pass",
        InvoiceStatus.DRAFT,
    )
    assert updated.due_at is not None
    assert updated.due_at.date() == date(2026, 12, 24)
    assert updated.items == draft.items
    assert state(sandbox).invoices[int(draft.key.id)]["email"] == "billing@example.org"
    assert await tight.invoices([draft.key]) == [updated]

    sent = (await tight.send_invoice(draft.key)).invoice
    assert sent.status is InvoiceStatus.OPEN
    assert await tight.invoices([draft.key]) == [sent]

    async with control.delete("/__sandbox/requests"):
        pass
    errors = await rejected(tight.update_invoice(UpdateInvoice(draft.key, note="late")))
    assert found(errors) == {((), ErrorCode.INVALID_STATE, "INVOICE_NOT_DRAFT")}
    errors = await rejected(tight.send_invoice(draft.key))
    assert found(errors) == {((), ErrorCode.INVALID_STATE, "INVOICE_NOT_DRAFT")}
    assert await requests(control) == [("PUT", DRAFT_PATH, 409), ("POST", SEND_PATH, 409)]
    [after] = await tight.invoices([draft.key])
    assert after == sent


async def test_void_cancels_and_refuses_what_cannot_be_cancelled(
    tight: TightConnector, sandbox: RunningSandbox, control: aiohttp.ClientSession
) -> None:
    target = an_invoice(sandbox, "OPEN", paid=False)
    voided = (await tight.void_invoice(target, "double booking")).invoice
    assert (voided.status, voided.balance_due.amount) == (InvoiceStatus.VOID, Decimal("0.00"))
    assert await tight.invoices([target]) == [voided]
    assert await requests(control) == [
        ("POST", CANCEL_PATH, 200),
        ("GET", f"/v5/invoicing/invoices/{target.id}", 200),
    ]
    errors = await rejected(tight.void_invoice(target, None))
    assert found(errors) == {((), ErrorCode.ALREADY_DONE, "ALREADY_CANCELLED")}
    errors = await rejected(tight.void_invoice(an_invoice(sandbox, "CLOSED"), None))
    assert found(errors) == {((), ErrorCode.INVALID_STATE, "INVALID_STATUS")}
    errors = await rejected(tight.void_invoice(an_invoice(sandbox, "OPEN", paid=True), None))
    assert found(errors) == {((), ErrorCode.INVALID_STATE, "INVOICE_HAS_PAYMENTS")}


@pytest.mark.parametrize("op", ["update", "send", "void"])
async def test_an_unknown_invoice_is_not_found_upstream(
    tight: TightConnector, control: aiohttp.ClientSession, op: str
) -> None:
    missing = key(EntityType.INVOICE, 999)
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "update": lambda: tight.update_invoice(UpdateInvoice(missing, note="x")),
        "send": lambda: tight.send_invoice(missing),
        "void": lambda: tight.void_invoice(missing, None),
    }
    errors = await rejected(calls[op]())
    assert found(errors) == {((), ErrorCode.NOT_FOUND, "NOT_FOUND")}
    assert len(await requests(control)) == 1


@pytest.mark.parametrize(
    "target",
    [
        Key(EntityType.INVOICE, Source.TIMETAP, TENANT, "1123100003"),
        key(EntityType.CLIENT, 52300011),
        key(EntityType.INVOICE, "abc"),
        key(EntityType.INVOICE, 1123100003, tenant="9999"),
    ],
)
async def test_keys_no_tight_invoice_can_have_cost_no_request(
    tight: TightConnector, control: aiohttp.ClientSession, target: Key
) -> None:
    for call in (
        tight.send_invoice(target),
        tight.void_invoice(target, None),
        tight.update_invoice(UpdateInvoice(target, note="x")),
    ):
        errors = await rejected(call)
        assert [(e.field, e.code, e.source_code) for e in errors] == [
            ((), ErrorCode.NOT_FOUND, None)
        ]
    assert await requests(control) == []


# --- rules checked before any call, and the same rules enforced upstream ------------------

CLIENT = key(EntityType.CLIENT, 52300011)
LONG_JSON = '{"note": "' + "x" * 1990 + '"}'

# (command changes, upstream body changes, field, code, Tight's code for the same mistake)
RULES: list[tuple[dict[str, Any], dict[str, Any], tuple[str, ...], ErrorCode, str]] = [
    ({"client": None}, {"clientId": None}, ("client",), ErrorCode.REQUIRED, "REQUIRED"),
    ({"lines": []}, {"lineItems": []}, ("lines",), ErrorCode.REQUIRED, "REQUIRED"),
    (
        {"lines": [LineInput("", Decimal(1), Decimal(5))]},
        {"lineItems": [{"description": "", "quantity": 1, "price": 5}]},
        ("lines", "0", "description"),
        ErrorCode.REQUIRED,
        "REQUIRED",
    ),
    (
        {"lines": [LineInput("Class", Decimal(0), Decimal(5))]},
        {"lineItems": [{"description": "Class", "quantity": 0, "price": 5}]},
        ("lines", "0", "quantity"),
        ErrorCode.INVALID,
        "INVALID_VALUE",
    ),
    (
        {"discount_amount": Decimal("5"), "discount_percent": Decimal("10")},
        {"discountAmount": 5, "discountPercent": 10},
        ("discount_percent",),
        ErrorCode.CONFLICTING_DISCOUNTS,
        "DISCOUNT_AMOUNT_AND_PERCENT",
    ),
    (
        {"accept_cash": False, "accept_card": False, "accept_ach": False},
        {"acceptCash": False, "acceptCredit": False, "acceptACH": False},
        ("accept_cash",),
        ErrorCode.PAYMENT_METHOD_REQUIRED,
        "PAYMENT_METHOD_REQUIRED",
    ),
    (
        {"custom_json": LONG_JSON},
        {"customData": LONG_JSON},
        ("custom_json",),
        ErrorCode.TOO_LONG,
        "CUSTOM_DATA_TOO_LONG",
    ),
    (
        {"custom_json": "x" * 2001},
        {"customData": "x" * 2001},
        ("custom_json",),
        ErrorCode.TOO_LONG,
        "CUSTOM_DATA_TOO_LONG",
    ),
    (
        {"custom_json": "{not json"},
        {"customData": "{not json"},
        ("custom_json",),
        ErrorCode.INVALID,
        "INVALID_JSON",
    ),
    ({"number": "no-digits"}, {"invoiceNo": "no-digits"}, ("number",), ErrorCode.INVALID,
     "INVALID_VALUE"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "body_changes", "field", "code", "source_code"),
    RULES,
    ids=[r[4] + ":" + ".".join(r[2]) for r in RULES],
)
async def test_rules_are_checked_before_any_call_and_upstream_refuses_the_same(
    tight: TightConnector,
    control: aiohttp.ClientSession,
    auth: dict[str, str],
    changes: dict[str, Any],
    body_changes: dict[str, Any],
    field: tuple[str, ...],
    code: ErrorCode,
    source_code: str,
) -> None:
    errors = await rejected(tight.create_invoice(replace(command(CLIENT), **changes)))
    assert found(errors) == {(field, code, None)}
    assert await requests(control) == []

    body = {**create_body(command(CLIENT)), **body_changes}
    async with control.post(DRAFT_PATH, json=body, headers=auth) as resp:
        status, reply = resp.status, await resp.json()
    assert status == 400
    upstream = user_errors(parse_errors(status, reply))
    assert found(tuple(upstream)) == {(field, code, source_code)}


async def test_every_refusal_is_reported_at_once(
    tight: TightConnector, control: aiohttp.ClientSession
) -> None:
    cmd = command(
        CLIENT,
        lines=[
            LineInput("Class", Decimal(-1), Decimal("1.5"), discount=Decimal(1)),
            LineInput("Shirt", Decimal(1), Decimal("0.12345678901234567890")),
        ],
        total=Decimal(10),
        tenant="another",
        recipient=Recipient(first_name="Ann", address=Address(city="Austin"), email="a@b.co"),
    )
    errors = await rejected(tight.create_invoice(cmd))
    assert found(errors) == {
        (("lines", "0", "quantity"), ErrorCode.INVALID, None),
        (("lines", "0", "discount"), ErrorCode.NOT_SUPPORTED, None),
        (("lines", "1", "unit_price"), ErrorCode.INVALID, None),
        (("total",), ErrorCode.NOT_SUPPORTED, None),
        (("recipient", "first_name"), ErrorCode.NOT_SUPPORTED, None),
        (("recipient", "address"), ErrorCode.NOT_SUPPORTED, None),
    }
    errors = await rejected(tight.create_invoice(command(CLIENT, tenant="another")))
    assert found(errors) == {(("tenant",), ErrorCode.INVALID, None)}
    other_source = Key(EntityType.CLIENT, Source.TIMETAP, TENANT, "52300011")
    for client in (other_source, key(EntityType.CLIENT, 52300011, tenant="1")):
        errors = await rejected(tight.create_invoice(command(client)))
        assert found(errors) == {(("client",), ErrorCode.NOT_FOUND, None)}
    update = UpdateInvoice(key(EntityType.INVOICE, 1), number="0", recipient=Recipient(phone="1"))
    errors = await rejected(tight.update_invoice(update))
    assert found(errors) == {
        (("number",), ErrorCode.INVALID, None),
        (("recipient", "phone"), ErrorCode.NOT_SUPPORTED, None),
    }
    assert await requests(control) == []


# --- refusals only Tight can make ----------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "code", "source_code"),
    [
        ({"client": key(EntityType.CLIENT, 1)}, ("client",), ErrorCode.NOT_FOUND,
         "CLIENT_NOT_FOUND"),
        ({"lines": [LineInput("Class", Decimal(1), Decimal(5), tax_rate=Decimal(150))]},
         ("lines", "0", "tax_rate"), ErrorCode.INVALID, "INVALID_VALUE"),
        ({"lines": [LineInput("Class", Decimal(1), Decimal(10**8))]},
         ("lines", "0", "unit_price"), ErrorCode.INVALID, "INVALID_VALUE"),
        ({"currency": "EUR"}, ("currency",), ErrorCode.INVALID, "INVALID_VALUE"),
        ({"discount_percent": Decimal(150)}, ("discount_percent",), ErrorCode.INVALID,
         "INVALID_VALUE"),
        ({"recipient": Recipient(email="nope")}, ("recipient", "email"), ErrorCode.INVALID,
         "INVALID_EMAIL"),
        ({"number": "TFS-1001"}, ("number",), ErrorCode.DUPLICATE, "DUPLICATE"),
    ],
)  # fmt: skip
async def test_upstream_refusals_map_to_the_command_field(
    tight: TightConnector,
    control: aiohttp.ClientSession,
    changes: dict[str, Any],
    field: tuple[str, ...],
    code: ErrorCode,
    source_code: str,
) -> None:
    errors = await rejected(tight.create_invoice(replace(command(CLIENT), **changes)))
    assert found(errors) == {(field, code, source_code)}
    assert await requests(control) == [("POST", DRAFT_PATH, 400)]


async def test_refusals_of_bodies_the_connector_never_sends(
    control: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    async def refusal(method: str, path: str, body: Any) -> set[Any]:
        async with control.request(method, path, data=body, headers=auth) as resp:
            status, reply = resp.status, await resp.json()
        return found(tuple(user_errors(parse_errors(status, reply))))

    dated = dict(create_body(command(CLIENT)), date="2026-13-01")
    assert await refusal("POST", DRAFT_PATH, orjson.dumps(dated)) == {
        (("issued_on",), ErrorCode.INVALID, "INVALID_DATE")
    }
    assert await refusal("POST", SEND_PATH, b"{") == {((), ErrorCode.INVALID, "INVALID_JSON")}
    assert await refusal("POST", SEND_PATH, b"{}") == {((), ErrorCode.REQUIRED, "REQUIRED")}


def test_the_table_maps_every_code_and_keeps_unknown_ones() -> None:
    for code, (unified, _) in CODES.items():
        assert user_error(SourceErrorDetail(code, "m")).code is unified
    unknown = user_error(SourceErrorDetail("RATE_LOCKED", "locked", "lineItems[3].price"))
    assert unknown == UserError(
        ("lines", "3", "unit_price"), ErrorCode.UNKNOWN, "locked", "RATE_LOCKED"
    )
    assert user_error(SourceErrorDetail("REQUIRED", "", "lineItems[1]")).field == ("lines", "1")
    assert user_error(SourceErrorDetail("REQUIRED", "", "somethingNew")).field == ()


async def test_an_unknown_upstream_code_is_kept(
    tight: TightConnector, sandbox: RunningSandbox, control: aiohttp.ClientSession
) -> None:
    body = {
        "result": "FAILURE",
        "message": "Sending is paused",
        "errors": {"fieldErrors": {}, "globalErrors": [{"type": "SENDING_PAUSED",
                                                         "errorMessage": "Sending is paused"}]},
    }  # fmt: skip
    await fault(control, path=f"^{SEND_PATH}$", status=409, body=body)
    draft = an_invoice(sandbox, "DRAFT")
    errors = await rejected(tight.send_invoice(draft))
    assert found(errors) == {((), ErrorCode.UNKNOWN, "SENDING_PAUSED")}
    # A refusal without Tight's codes is a failure, not the caller's mistake.
    await fault(control, path=f"^{SEND_PATH}$", status=409, body={})
    with pytest.raises(UpstreamConflict):
        await tight.send_invoice(draft)
    assert state(sandbox).invoices[int(draft.id)]["status"] == "DRAFT"


# --- a create that sends: completed, or undone ------------------------------------------


def newest_invoice(sandbox: RunningSandbox) -> dict[str, Any]:
    invoices: dict[int, dict[str, Any]] = state(sandbox).invoices
    return invoices[max(invoices)]


async def test_a_failed_send_cancels_the_draft_and_raises_the_failure(
    tight: TightConnector, sandbox: RunningSandbox, control: aiohttp.ClientSession
) -> None:
    await fault(control, path=f"^{SEND_PATH}$", status=503)
    with pytest.raises(UpstreamUnavailable):
        await tight.create_invoice(command(CLIENT, send=True))
    assert await requests(control) == [
        ("POST", DRAFT_PATH, 200),
        ("POST", SEND_PATH, 503),
        ("POST", CANCEL_PATH, 200),
    ]
    draft = key(EntityType.INVOICE, newest_invoice(sandbox)["id"])
    [read] = await tight.invoices([draft])
    assert read is not None
    assert read.status is InvoiceStatus.VOID


async def test_a_refused_send_cancels_the_draft_and_raises_the_refusal(
    tight: TightConnector, sandbox: RunningSandbox, control: aiohttp.ClientSession
) -> None:
    body = {
        "result": "FAILURE",
        "message": "Invoice is not a draft",
        "errors": {"fieldErrors": {}, "globalErrors": [{"type": "INVOICE_NOT_DRAFT",
                                                         "errorMessage": "not a draft"}]},
    }  # fmt: skip
    await fault(control, path=f"^{SEND_PATH}$", status=409, body=body)
    errors = await rejected(tight.create_invoice(command(CLIENT, send=True)))
    assert found(errors) == {((), ErrorCode.INVALID_STATE, "INVOICE_NOT_DRAFT")}
    assert [r[1] for r in await requests(control)] == [DRAFT_PATH, SEND_PATH, CANCEL_PATH]
    assert newest_invoice(sandbox)["status"] == "CANCELLED"


async def test_a_failed_undo_is_a_partial_write_naming_the_draft(
    tight: TightConnector, sandbox: RunningSandbox, control: aiohttp.ClientSession
) -> None:
    await fault(control, path=f"^{SEND_PATH}$", status=500)
    await fault(control, path=f"^{CANCEL_PATH}$", status=500)
    with pytest.raises(PartialWrite) as caught:
        await tight.create_invoice(command(CLIENT, send=True))
    draft = key(EntityType.INVOICE, newest_invoice(sandbox)["id"])
    assert caught.value.created == (draft,)
    assert isinstance(caught.value.cause, UpstreamUnavailable)
    assert "http" not in str(caught.value)
    assert [r[2] for r in await requests(control)] == [200, 500, 500]
    [read] = await tight.invoices([draft])
    assert read is not None
    assert read.status is InvoiceStatus.DRAFT


# --- what Tight cannot do ---------------------------------------------------------------


async def test_unsupported_writes_never_reach_tight(
    tight: TightConnector, control: aiohttp.ClientSession
) -> None:
    invoice = key(EntityType.INVOICE, 1123100003)
    item = key(EntityType.INVOICE_ITEM, "1123100003/28868401")
    plan = key(EntityType.SUBSCRIPTION, 1123100003)
    calls: list[tuple[Capability, Awaitable[Any]]] = [
        (Capability.DELETE_INVOICE, tight.delete_invoice(invoice)),
        (Capability.ADD_INVOICE_ITEMS, tight.add_invoice_items(invoice, command(CLIENT).lines)),
        (Capability.UPDATE_INVOICE_ITEM, tight.update_invoice_item(item, LineChange())),
        (Capability.REMOVE_INVOICE_ITEM, tight.remove_invoice_item(item)),
        (
            Capability.SEND_INVOICE_BALANCE_LINK,
            tight.send_invoice_balance_link(invoice, [Channel.EMAIL]),
        ),
    ]
    for op in SubscriptionOp:
        command_ = SubscriptionCommand(plan, op)
        calls.append((SUBSCRIPTION_CAPABILITY[op], tight.change_subscription(command_)))
    for capability, call in calls:
        with pytest.raises(NotSupported) as caught:
            await call
        assert caught.value.capability is capability
        assert capability not in tight.capabilities
        assert [e.code for e in caught.value.errors] == [ErrorCode.NOT_SUPPORTED]
    assert await requests(control) == []
