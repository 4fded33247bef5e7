"""``POST /__sandbox/simulate/payment`` on the FitnessForce sandbox: what the reads then show."""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from clubgraph.connectors.fitnessforce import DEV_CREDENTIALS
from clubgraph.sandbox.fitnessforce.responses import STATE
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox

DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
PAY = "/__sandbox/simulate/payment"


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    # Responses cached as in benchmarks: a simulated payment must be seen all the same.
    running = await start_sandbox(port_base=None, sources=["fitnessforce"], cache_responses=True)
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def http(sandbox: RunningSandbox) -> AsyncIterator[aiohttp.ClientSession]:
    url = sandbox.urls["fitnessforce"]
    async with aiohttp.ClientSession(url) as session:
        login = {"username": DEV_CREDENTIALS.username, "password": DEV_CREDENTIALS.password}
        async with session.post("/authentication/token", json=login) as resp:
            token = (await resp.json())["access_token"]
        session.headers["Authorization"] = f"Bearer {token}"
        yield session


async def call(http: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    async with http.request(method, path, **kw) as resp:
        return resp.status, orjson.loads(await resp.read())


def unpaid(sandbox: RunningSandbox, n: int = 0, tenant: int = 101) -> dict[str, Any]:
    state = sandbox.apps["fitnessforce"][STATE]
    rows = [
        i
        for i in state.invoices.values()
        if i["status"] == "Unpaid" and i["tenant_id"] == tenant and i["balance_amount"] > 20
    ]
    return rows[n]


def path(inv: dict[str, Any]) -> str:
    return f"/tenant/{inv['tenant_id']}/clients/{inv['client_id']}/invoices/{inv['invoice_id']}"


def ids(inv: dict[str, Any]) -> dict[str, Any]:
    return {k: inv[k] for k in ("tenant_id", "client_id", "invoice_id")}


def cents(amount: float) -> int:
    return round(amount * 100)


async def test_a_partial_then_full_payment_changes_what_get_returns(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    inv = unpaid(sandbox)
    status, before = await call(http, "GET", path(inv))  # cached from now on
    assert status == 200
    status, listed = await call(
        http, "GET", f"/tenant/101/clients/{inv['client_id']}/invoices", params={"page_size": 200}
    )
    assert status == 200
    assert inv["invoice_id"] in {row["invoice_id"] for row in listed["data"]}

    status, answer = await call(http, "POST", PAY, json={**ids(inv), "amount": "12.34"})
    assert status == 200, answer
    payment = answer["payment"]
    assert payment["payment_id"] > 800000
    assert (payment["invoice_id"], payment["client_id"]) == (inv["invoice_id"], inv["client_id"])
    assert (payment["amount"], payment["currency_code"]) == (12.34, "EUR")
    assert DATETIME.match(payment["payment_date"])
    status, after = await call(http, "GET", path(inv))
    assert after == answer["invoice"]
    assert after["status"] == "PartiallyPaid"
    assert cents(after["paid_amount"]) == cents(before["paid_amount"]) + 1234
    assert cents(after["balance_amount"]) == cents(before["balance_amount"]) - 1234
    assert after["paid_date"] is None

    # No amount: the whole balance.
    status, answer = await call(http, "POST", PAY, json=ids(inv))
    assert status == 200, answer
    assert cents(answer["payment"]["amount"]) == cents(after["balance_amount"])
    assert answer["payment"]["payment_id"] == payment["payment_id"] + 1
    status, paid = await call(http, "GET", path(inv))
    assert paid["status"] == "Paid"
    assert (paid["balance_amount"], paid["paid_amount"]) == (0.0, before["net_amount"])
    assert DATETIME.match(paid["paid_date"])
    status, outstanding = await call(
        http,
        "GET",
        f"/tenant/101/clients/{inv['client_id']}/invoices",
        params={"outstanding_only": "true", "page_size": 200},
    )
    assert inv["invoice_id"] not in {row["invoice_id"] for row in outstanding["data"]}

    # Nothing left to pay.
    status, body = await call(http, "POST", PAY, json=ids(inv))
    assert status == 409
    assert body["errors"][0]["errorCode"] == "InvoiceHasNoBalance"


async def test_a_number_amount_is_taken_too(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    inv = unpaid(sandbox, 1)
    status, answer = await call(http, "POST", PAY, json={**ids(inv), "amount": 5})
    assert status == 200, answer
    assert answer["payment"]["amount"] == 5.0
    status, answer = await call(http, "POST", PAY, json={**ids(inv), "amount": 0.1})
    assert status == 200, answer
    assert answer["payment"]["amount"] == 0.1


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"amount": 0}, 422, "InvalidRequestBody"),
        ({"amount": "-5"}, 422, "InvalidRequestBody"),
        ({"amount": "1.234"}, 422, "InvalidRequestBody"),
        ({"amount": 1.005}, 422, "InvalidRequestBody"),
        ({"amount": "ten"}, 422, "InvalidRequestBody"),
        ({"amount": "NaN"}, 422, "InvalidRequestBody"),
        ({"amount": True}, 422, "InvalidRequestBody"),
        ({"amount": "100000"}, 422, "AmountExceedsBalance"),
        ({"invoice_id": None}, 422, "InvalidRequestBody"),
        ({"tenant_id": "x"}, 422, "InvalidRequestBody"),
        ({"tenant_id": 999}, 404, "TenantNotFound"),
        ({"tenant_id": 102}, 404, "ClientNotFound"),
        ({"client_id": 1}, 404, "ClientNotFound"),
        ({"invoice_id": 1}, 404, "InvoiceNotFound"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    sandbox: RunningSandbox,
    http: aiohttp.ClientSession,
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    inv = unpaid(sandbox, 2)
    before = copy.deepcopy(inv)
    payments = dict(sandbox.apps["fitnessforce"][STATE].payments)
    got, body = await call(http, "POST", PAY, json={**ids(inv), **change})
    assert got == status, body
    (error,) = body["errors"]
    assert error["errorCode"] == code
    assert error["errorMessage"]
    assert inv == before
    assert sandbox.apps["fitnessforce"][STATE].payments == payments


async def test_a_draft_or_an_invoice_of_another_client_cannot_be_paid(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    state = sandbox.apps["fitnessforce"][STATE]
    draft = next(i for i in state.invoices.values() if i["status"] == "Draft")
    status, body = await call(http, "POST", PAY, json=ids(draft))
    assert (status, body["errors"][0]["errorCode"]) == (409, "InvoiceNotIssued")
    inv = unpaid(sandbox, 3)
    neighbour = next(
        c
        for c in state.clients.values()
        if c["tenant_id"] == inv["tenant_id"] and c["client_id"] != inv["client_id"]
    )
    mixed = {**ids(inv), "client_id": neighbour["client_id"]}
    status, body = await call(http, "POST", PAY, json=mixed)
    assert (status, body["errors"][0]["errorCode"]) == (404, "InvoiceNotFound")
    status, body = await call(http, "POST", PAY, data=b"{not json")
    assert status == 422
    assert body["errors"][0]["errorMessage"] == "the body is not JSON"
