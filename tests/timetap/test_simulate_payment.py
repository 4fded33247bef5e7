"""``POST /__sandbox/simulate/payment`` on the TimeTap sandbox: what the reads then show."""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest

from clubgraph.connectors.timetap import DEV_CREDENTIALS
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox
from clubgraph.sandbox.timetap.model import STATE

PAY = "/__sandbox/simulate/payment"


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["timetap"], cache_responses=True)
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def http(sandbox: RunningSandbox) -> AsyncIterator[aiohttp.ClientSession]:
    url = sandbox.urls["timetap"]
    async with aiohttp.ClientSession(url) as session:
        pair = DEV_CREDENTIALS.keys[0]
        sig = hashlib.md5((pair.api_key + pair.private_key).encode()).hexdigest()
        params = {"apiKey": pair.api_key, "timestamp": str(int(time.time())), "signature": sig}
        async with session.get("/sessionToken", params=params) as resp:
            token = (await resp.json())["sessionToken"]
        session.headers["Authorization"] = f"Bearer {token}"
        yield session


async def call(http: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    async with http.request(method, path, **kw) as resp:
        return resp.status, orjson.loads(await resp.read())


def unpaid(sandbox: RunningSandbox, n: int = 0) -> dict[str, Any]:
    """An open invoice of the first business (the session's) with no payment yet."""
    state = sandbox.apps["timetap"][STATE]
    business = next(iter(state.businesses))
    rows = [
        i
        for i in state.invoices.values()
        if i["businessId"] == business
        and i["status"] == "OPEN"
        and i["subStatus"] == "No Payment"
        and i["invoiceType"] == "INVOICE"
        and i["balanceAmount"] > 20
    ]
    return rows[n]


async def test_a_partial_then_full_payment_changes_what_get_returns(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    inv = unpaid(sandbox)
    invoice_id = inv["invoiceId"]
    status, before = await call(http, "GET", f"/invoices/{invoice_id}")  # cached now
    assert status == 200

    status, answer = await call(
        http,
        "POST",
        PAY,
        json={"business_id": inv["businessId"], "invoice_id": invoice_id, "amount": "10.25"},
    )
    assert status == 200, answer
    assert answer["amount"] == 10.25
    status, after = await call(http, "GET", f"/invoices/{invoice_id}")
    assert after == answer["invoice"]
    assert (after["status"], after["subStatus"]) == ("OPEN", "Partial Payment")
    assert Decimal(str(after["paidAmount"])) == Decimal(str(before["paidAmount"])) + Decimal(
        "10.25"
    )
    assert Decimal(str(after["balanceAmount"])) == Decimal(str(before["balanceAmount"])) - Decimal(
        "10.25"
    )
    assert after["lastStatusDate"] > before["lastStatusDate"]
    assert after["paidOnDate"] is None

    # No business id (invoice ids are unique), no amount: the whole balance.
    status, answer = await call(http, "POST", PAY, json={"invoice_id": invoice_id})
    assert status == 200, answer
    assert answer["amount"] == after["balanceAmount"]
    status, paid = await call(http, "GET", f"/invoices/{invoice_id}")
    assert (paid["status"], paid["subStatus"], paid["balanceAmount"]) == ("CLOSED", "Paid", 0)
    assert paid["paidOnDate"] == paid["lastStatusDate"]
    assert paid["lastStatusDate"] >= after["lastStatusDate"]
    status, closed = await call(http, "GET", "/invoices/status/CLOSED")
    assert invoice_id in {row["invoiceId"] for row in closed}
    status, open_ = await call(http, "GET", "/invoices/status/OPEN")
    assert invoice_id not in {row["invoiceId"] for row in open_}

    status, body = await call(http, "POST", PAY, json={"invoice_id": invoice_id})
    assert status == 409
    assert body["errors"][0]["errorCode"] == "INVOICE_NOT_PAYABLE"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"amount": 0}, 422, "INVALID_AMOUNT"),
        ({"amount": -1}, 422, "INVALID_AMOUNT"),
        ({"amount": 1.001}, 422, "INVALID_AMOUNT"),
        ({"amount": "lots"}, 422, "INVALID_AMOUNT"),
        ({"amount": 100000}, 422, "INVALID_AMOUNT"),
        ({"invoice_id": None}, 422, "INVALID_ID"),
        ({"invoice_id": 1.5}, 422, "INVALID_ID"),
        ({"business_id": "nope"}, 422, "INVALID_ID"),
        ({"invoice_id": 1}, 404, "INVOICE_NOT_FOUND"),
        ({"business_id": 1}, 404, "INVOICE_NOT_FOUND"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    inv = unpaid(sandbox, 1)
    before = copy.deepcopy(inv)
    got, body = await call(http, "POST", PAY, json={"invoice_id": inv["invoiceId"], **change})
    assert got == status, body
    (error,) = body["errors"]
    assert error["errorCode"] == code
    assert error["errorMessage"]
    assert inv == before


async def test_void_deleted_and_quotes_cannot_be_paid(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    state = sandbox.apps["timetap"][STATE]
    for found in (
        next(i for i in state.invoices.values() if i["status"] == "VOID"),
        next(i for i in state.invoices.values() if i["status"] == "DELETED"),
        next(i for i in state.invoices.values() if i["invoiceType"] == "QUOTE"),
    ):
        status, body = await call(http, "POST", PAY, json={"invoice_id": found["invoiceId"]})
        assert status == 409, found
        assert body["errors"][0]["errorCode"] == "INVOICE_NOT_PAYABLE"
    status, body = await call(http, "POST", PAY, data=b"nope")
    assert status == 422
    assert body["errors"][0]["errorCode"] == "INVALID_JSON"
