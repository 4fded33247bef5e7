"""``POST /__sandbox/simulate/payment`` on the ClubCollect sandbox: what the reads then show."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from clubgraph.connectors.clubcollect import DEV_CREDENTIALS
from clubgraph.sandbox.clubcollect.protocol import STATE
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox

AUTH = {"Authorization": f"ApiKey {DEV_CREDENTIALS.api_key}"}
PAY = "/__sandbox/simulate/payment"


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["clubcollect"], cache_responses=True)
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def http(sandbox: RunningSandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(sandbox.urls["clubcollect"], headers=AUTH) as session:
        yield session


async def call(http: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    async with http.request(method, path, **kw) as resp:
        return resp.status, orjson.loads(await resp.read())


def open_invoices(sandbox: RunningSandbox) -> list[dict[str, Any]]:
    state = sandbox.apps["clubcollect"][STATE]
    return [
        i
        for i in state.invoices.values()
        if i["status"] == "transmitted" and i["amount_open_cents"] > 500
    ]


async def test_a_partial_then_full_payment_changes_what_get_returns(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    inv = open_invoices(sandbox)[0]
    invoice_id = inv["invoice_id"]
    status, before = await call(http, "GET", f"/api/v2/invoices/{invoice_id}")
    assert status == 200
    state = sandbox.apps["clubcollect"][STATE]
    settled = state.imports[inv["import_id"]]["settled_amount_cents"]

    status, answer = await call(
        http, "POST", PAY, json={"invoice_id": invoice_id, "amount_cents": 250}
    )
    assert status == 200, answer
    line = answer["payment"]
    assert (line["type"], line["amount_cents"], line["payment_method"]) == (
        "PAYMENT-LINE",
        -250,
        "ideal",
    )
    status, after = await call(http, "GET", f"/api/v2/invoices/{invoice_id}")
    assert after == answer["invoice"]
    assert after["status"] == "partially_paid"
    assert after["amount_paid_cents"] == before["amount_paid_cents"] + 250
    assert after["amount_open_cents"] == before["amount_open_cents"] - 250
    status, lines = await call(http, "GET", f"/api/v2/invoices/{invoice_id}/lines")
    assert lines["invoice_lines"][-1] == line
    async with http.get("/__sandbox/notifications") as resp:
        assert invoice_id in (await resp.json())["invoice_ids"]

    status, answer = await call(http, "POST", PAY, json={"invoice_id": invoice_id})
    assert status == 200, answer
    assert answer["payment"]["amount_cents"] == -after["amount_open_cents"]
    status, paid = await call(http, "GET", f"/api/v2/invoices/{invoice_id}")
    assert (paid["status"], paid["amount_open_cents"]) == ("paid", 0)
    assert state.imports[inv["import_id"]]["settled_amount_cents"] == (
        settled + before["amount_open_cents"]
    )
    status, body = await call(http, "POST", PAY, json={"invoice_id": invoice_id})
    assert (status, body) == (409, {"error": "invoice_not_payable"})


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"amount_cents": 0}, 422, "invalid_amount_cents"),
        ({"amount_cents": -100}, 422, "invalid_amount_cents"),
        ({"amount_cents": "100"}, 422, "invalid_amount_cents"),
        ({"amount_cents": 1.5}, 422, "invalid_amount_cents"),
        ({"amount_cents": True}, 422, "invalid_amount_cents"),
        ({"amount_cents": 10**9}, 422, "invalid_amount_cents"),
        ({"invoice_id": None}, 422, "invalid_invoice_id"),
        ({"invoice_id": 42}, 422, "invalid_invoice_id"),
        ({"invoice_id": "f" * 40}, 404, "invalid_invoice_id"),
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
    pending = dict(sandbox.apps["clubcollect"][STATE].changed_invoices)
    got, body = await call(http, "POST", PAY, json={"invoice_id": inv["invoice_id"], **change})
    assert (got, body) == (status, {"error": code})
    assert inv == before
    assert sandbox.apps["clubcollect"][STATE].changed_invoices == pending


async def test_drafts_and_unreadable_bodies_are_refused(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    state = sandbox.apps["clubcollect"][STATE]
    draft = next(i for i in state.invoices.values() if i["status"] == "draft")
    status, body = await call(http, "POST", PAY, json={"invoice_id": draft["invoice_id"]})
    assert (status, body) == (409, {"error": "invoice_not_payable"})
    status, body = await call(http, "POST", PAY, data=b"[1")
    assert (status, body) == (422, {"error": "invalid_body"})
