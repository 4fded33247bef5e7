"""``POST /__sandbox/simulate/payment`` on the Tight sandbox: what the reads then show."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import pytest

from clubgraph.connectors.tight import DEV_CREDENTIALS
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox
from clubgraph.sandbox.tight.state import STATE

PAY = "/__sandbox/simulate/payment"


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["tight"], cache_responses=True)
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def http(sandbox: RunningSandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(sandbox.urls["tight"]) as session:
        form = {
            "client_id": DEV_CREDENTIALS.client_id,
            "client_secret": DEV_CREDENTIALS.client_secret,
            "grant_type": "client_credentials",
        }
        async with session.post("/v5/auth/token", data=form) as resp:
            token = (await resp.json())["access_token"]
        session.headers["Authorization"] = f"Bearer {token}"
        yield session


async def call(http: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    async with http.request(method, path, **kw) as resp:
        return resp.status, orjson.loads(await resp.read())


def open_invoices(sandbox: RunningSandbox, *, installments: bool = False) -> list[dict[str, Any]]:
    state = sandbox.apps["tight"][STATE]
    return [
        i
        for i in state.invoices.values()
        if i["status"] == "OPEN"
        and i["balance"] > 20
        and bool(i["installments"]) is installments
        and not i["isRecurringParent"]
    ]


def cents(amount: float) -> int:
    return round(amount * 100)


async def test_a_partial_then_full_payment_changes_what_get_returns(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    inv = open_invoices(sandbox)[0]
    status, before = await call(http, "GET", f"/v5/invoicing/invoices/{inv['id']}")  # cached
    assert status == 200
    status, answer = await call(
        http, "POST", PAY, json={"invoice_id": inv["id"], "amount_cents": 999}
    )
    assert status == 200, answer
    payment = answer["payment"]
    assert (payment["amountApplied"], payment["status"], payment["invoiceId"]) == (
        9.99,
        "PROCESSED",
        inv["id"],
    )
    assert payment["date"] == datetime.now(UTC).date().isoformat()
    status, after = await call(http, "GET", f"/v5/invoicing/invoices/{inv['id']}")
    assert after == answer["invoice"]
    assert after["status"] == "OPEN"
    assert after["payments"][-1] == payment
    assert cents(after["amountPaid"]) == cents(before["amountPaid"]) + 999
    assert cents(after["balance"]) == cents(before["balance"]) - 999
    assert after["paidDate"] is None

    status, answer = await call(http, "POST", PAY, json={"invoice_id": inv["id"]})
    assert status == 200, answer
    assert answer["payment"]["id"] == payment["id"] + 1
    assert cents(answer["payment"]["amountApplied"]) == cents(after["balance"])
    status, paid = await call(http, "GET", f"/v5/invoicing/invoices/{inv['id']}")
    assert (paid["status"], paid["balance"]) == ("CLOSED", 0)
    assert cents(paid["amountPaid"]) == paid["totalAmountCents"]
    assert paid["paidDate"] == payment["date"]
    status, listed = await call(
        http, "GET", "/v5/invoicing/invoices", params={"hasBalance": "true", "pageSize": "500"}
    )
    assert inv["id"] not in {row["id"] for row in listed["data"]}

    status, body = await call(http, "POST", PAY, json={"invoice_id": inv["id"]})
    assert status == 409
    assert body["errors"]["globalErrors"][0]["type"] == "INVOICE_NOT_PAYABLE"


async def test_installments_are_paid_in_order(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    inv = open_invoices(sandbox, installments=True)[0]
    first = next(p for p in inv["installments"] if p["balance"] > 0)
    status, answer = await call(
        http,
        "POST",
        PAY,
        json={"invoice_id": inv["id"], "amount_cents": cents(first["balance"])},
    )
    assert status == 200, answer
    paid = next(p for p in answer["invoice"]["installments"] if p["id"] == first["id"])
    assert (paid["status"], paid["balance"]) == ("PAID", 0)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"amount_cents": 0}, 422, "INVALID_VALUE"),
        ({"amount_cents": -5}, 422, "INVALID_VALUE"),
        ({"amount_cents": 1.5}, 422, "INVALID_VALUE"),
        ({"amount_cents": "100"}, 422, "INVALID_VALUE"),
        ({"amount_cents": 10**9}, 422, "INVALID_VALUE"),
        ({"invoice_id": None}, 422, "INVALID_VALUE"),
        ({"invoice_id": "abc"}, 422, "INVALID_VALUE"),
        ({"invoice_id": 1}, 404, "NOT_FOUND"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    inv = open_invoices(sandbox)[1]
    before = copy.deepcopy(inv)
    got, body = await call(http, "POST", PAY, json={"invoice_id": inv["id"], **change})
    assert got == status, body
    assert body["result"] == "FAILURE"
    assert body["errors"]["globalErrors"][0]["type"] == code
    assert body["message"]
    assert inv == before


async def test_drafts_and_cancelled_invoices_cannot_be_paid(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    state = sandbox.apps["tight"][STATE]
    for wanted in ("DRAFT", "CANCELLED", "SCHEDULED"):
        found = next(i for i in state.invoices.values() if i["status"] == wanted)
        status, body = await call(http, "POST", PAY, json={"invoice_id": found["id"]})
        assert status == 409, wanted
        assert body["errors"]["globalErrors"][0]["type"] == "INVOICE_NOT_PAYABLE"
    status, body = await call(http, "POST", PAY, data=b"{")
    assert status == 422
    assert body["message"] == "the body is not JSON"
