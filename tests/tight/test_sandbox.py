"""Fidelity of the Tight sandbox over real HTTP: paths, casing, formats, auth, writes."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from clubgraph.connectors.tight import DEV_CREDENTIALS
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox
from clubgraph.sandbox.tight.data import build

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["tight"])
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def http(sandbox: RunningSandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sandbox.urls["tight"]) as session:
        yield session


@pytest.fixture(scope="module")
async def auth(http: aiohttp.ClientSession) -> dict[str, str]:
    form = {
        "client_id": DEV_CREDENTIALS.client_id,
        "client_secret": DEV_CREDENTIALS.client_secret,
        "grant_type": "client_credentials",
    }
    async with http.post("/v5/auth/token", data=form) as resp:
        assert resp.status == 200
        body = await resp.json()
    return {"Authorization": f"Bearer {body['access_token']}"}


async def get(
    http: aiohttp.ClientSession, path: str, auth: dict[str, str], **params: Any
) -> tuple[int, Any]:
    async with http.get(path, headers=auth, params={k: str(v) for k, v in params.items()}) as r:
        return r.status, await r.json()


async def send(
    http: aiohttp.ClientSession, method: str, path: str, auth: dict[str, str], body: Any
) -> tuple[int, Any]:
    async with http.request(method, path, headers=auth, json=body) as resp:
        return resp.status, await resp.json()


async def test_token_endpoint_form_grant_and_refresh(http: aiohttp.ClientSession) -> None:
    form = {
        "client_id": DEV_CREDENTIALS.client_id,
        "client_secret": DEV_CREDENTIALS.client_secret,
        "grant_type": "client_credentials",
        "userId": "user-42",
    }
    async with http.post("/v5/auth/token", data=form) as resp:
        token = await resp.json()
    assert set(token) == {
        "access_token", "refresh_token", "token_type", "expires_in", "created_at", "scope"
    }  # fmt: skip
    assert token["expires_in"] == 3600
    refresh = {**form, "grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    async with http.post("/v5/auth/token", data=refresh) as resp:
        renewed = await resp.json()
    assert resp.status == 200
    assert renewed["access_token"] != token["access_token"]
    assert renewed["refresh_token"] == token["refresh_token"]
    async with http.post("/v5/auth/token", data={**refresh, "refresh_token": "x"}) as resp:
        assert (resp.status, (await resp.json())["error"]) == (400, "invalid_grant")
    async with http.post("/v5/auth/token", data={**form, "client_secret": "no"}) as resp:
        assert resp.status == 401
        assert await resp.json() == {
            "error": "invalid_client",
            "error_description": "Bad client credentials",
        }


async def test_requests_without_valid_token_are_refused(http: aiohttp.ClientSession) -> None:
    async with http.get("/v5/invoicing/invoices") as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await resp.json())["error"] == "unauthorized"
    status, body = await get(http, "/v5/invoicing/clients", {"Authorization": "Bearer nope"})
    assert status == 401
    assert body["error"] == "invalid_token"
    assert set(body) == {"error", "error_description"}


async def test_expired_tokens_are_refused() -> None:
    running = await start_sandbox(port_base=None, sources=["tight"])
    try:
        async with aiohttp.ClientSession(base_url=running.urls["tight"]) as http:
            form = {
                "client_id": DEV_CREDENTIALS.client_id,
                "client_secret": DEV_CREDENTIALS.client_secret,
                "grant_type": "client_credentials",
            }
            async with http.post("/v5/auth/token", json=form) as resp:
                token = (await resp.json())["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            assert (await get(http, "/v5/businesses", headers))[0] == 200
            async with http.post("/__sandbox/tokens/expire") as resp:
                assert resp.status == 204
            status, body = await get(http, "/v5/businesses", headers)
            assert (status, body["error"]) == (401, "invalid_token")
            assert body["error_description"].startswith("Access token expired")
    finally:
        await running.stop()


async def test_invoice_list_shape_formats_and_paging(
    http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    status, page = await get(http, "/v5/invoicing/invoices", auth, page=2, pageSize=25)
    assert status == 200
    assert (page["page"], page["pageSize"], len(page["data"])) == (2, 25, 25)
    assert page["totalCount"] >= 650
    invoice = page["data"][0]
    for field in (
        "id", "clientId", "date", "name", "invoiceNo", "totalAmount", "totalAmountCents",
        "balance", "discountAmount", "discountPercent", "term", "dueDate", "frequency",
        "status", "emailStatus", "sendEmail", "reminderSchedule", "parentId",
        "isRecurringParent", "refundStatus", "lineItems", "installments", "clientName",
        "clientInvoiceKey", "amountPaid", "acceptACH", "acceptCredit", "acceptCash",
        "businessName", "invoicePdfUrl", "pendingPaymentAmount", "customData",
    ):  # fmt: skip
        assert field in invoice, field
    assert DATE.match(invoice["date"])
    assert DATE.match(invoice["dueDate"])
    assert isinstance(invoice["totalAmountCents"], int)
    assert isinstance(invoice["totalAmount"], float)
    assert round(invoice["totalAmount"] * 100) == invoice["totalAmountCents"]
    assert isinstance(invoice["id"], int)
    assert set(invoice["lineItems"][0]) >= {"id", "description", "quantity", "price", "amount"}
    # Pages tile the list: pages 1-2 of 25 are page 1 of 50.
    _, first = await get(http, "/v5/invoicing/invoices", auth, page=1, pageSize=25)
    _, both = await get(http, "/v5/invoicing/invoices", auth, page=1, pageSize=50)
    assert [i["id"] for i in both["data"]] == [i["id"] for i in first["data"] + page["data"]]
    dates = [i["date"] for i in both["data"]]
    assert dates == sorted(dates, reverse=True)
    status, body = await get(http, "/v5/invoicing/invoices", auth, pageSize=501)
    assert status == 400
    assert body["errors"]["globalErrors"][0]["type"] == "INVALID_VALUE"


async def test_invoice_filters_and_sorts(http: aiohttp.ClientSession, auth: dict[str, str]) -> None:
    _, parents = await get(
        http, "/v5/invoicing/invoices", auth, isRecurringParent="true", pageSize=500
    )
    assert parents["totalCount"] >= 110
    parent = next(p for p in parents["data"] if p["lastCreatedRecurringInvoice"])
    _, children = await get(http, "/v5/invoicing/invoices", auth, parentId=parent["id"])
    assert children["data"]
    assert all(c["parentId"] == parent["id"] for c in children["data"])
    _, closed = await get(
        http, "/v5/invoicing/invoices", auth, status="CLOSED,REFUNDED", pageSize=500
    )
    assert {i["status"] for i in closed["data"]} == {"CLOSED", "REFUNDED"}
    client_id = parent["clientId"]
    _, mine = await get(http, "/v5/invoicing/invoices", auth, clientId=client_id)
    assert mine["data"]
    assert {i["clientId"] for i in mine["data"]} == {client_id}
    _, by_total = await get(
        http, "/v5/invoicing/invoices", auth, sort="totalAmount", sortDirection="ASC"
    )
    totals = [i["totalAmountCents"] for i in by_total["data"]]
    assert totals == sorted(totals)
    status, _body = await get(http, "/v5/invoicing/invoices", auth, status="PAID")
    assert status == 400


async def test_get_invoice_and_not_found(http: aiohttp.ClientSession, auth: dict[str, str]) -> None:
    _, page = await get(http, "/v5/invoicing/invoices", auth, pageSize=1)
    wanted = page["data"][0]
    status, body = await get(http, f"/v5/invoicing/invoices/{wanted['id']}", auth)
    assert (status, body) == (200, wanted)
    status, body = await get(http, "/v5/invoicing/invoices/999", auth)
    assert status == 404
    assert body == {
        "result": "FAILURE",
        "message": "Invoice 999 not found",
        "errors": {
            "fieldErrors": {},
            "globalErrors": [{"type": "NOT_FOUND", "errorMessage": "Invoice 999 not found"}],
        },
    }


async def test_client_invoice_key_needs_no_token(
    http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    _, page = await get(http, "/v5/invoicing/invoices", auth, status="OPEN", pageSize=1)
    invoice = page["data"][0]
    headers = {"clientInvoiceKey": invoice["clientInvoiceKey"]}
    async with http.post("/v5/invoicing/clientInvoiceKey", headers=headers) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["id"] == invoice["id"]
    assert body["totalAmountCents"] == invoice["totalAmountCents"]
    assert body["lastViewedDate"] is not None
    async with http.post("/v5/invoicing/clientInvoiceKey", headers={"clientInvoiceKey": "x"}) as r:
        assert (r.status, (await r.json())["errors"]["globalErrors"][0]["type"]) == (
            404,
            "NOT_FOUND",
        )


async def test_clients_list_get_create(http: aiohttp.ClientSession, auth: dict[str, str]) -> None:
    _, page = await get(http, "/v5/invoicing/clients", auth, pageSize=500)
    assert page["totalCount"] >= 60
    names = [c["name"].casefold() for c in page["data"]]
    assert names == sorted(names)
    client = page["data"][0]
    assert set(client) >= {"id", "name", "firstName", "lastName", "email", "createdDate"}
    assert client["createdDate"].endswith("Z")
    assert (await get(http, f"/v5/invoicing/clients/{client['id']}", auth)) == (200, client)
    status, body = await send(
        http, "POST", "/v5/invoicing/client", auth,
        {"firstName": "Noor", "lastName": "Haddad", "email": "noor.haddad@example.com"},
    )  # fmt: skip
    assert (status, body["result"]) == (200, "SUCCESS")
    status, fetched = await get(http, f"/v5/invoicing/clients/{body['clientId']}", auth)
    assert (status, fetched["name"]) == (200, "Noor Haddad")
    status, dup = await send(
        http, "POST", "/v5/invoicing/client", auth, {"name": "X", "email": client["email"]}
    )
    assert (status, dup["errors"]["globalErrors"][0]["type"]) == (400, "DUPLICATE")
    status, bad = await send(http, "POST", "/v5/invoicing/client", auth, {"email": "nope"})
    assert status == 400
    assert bad["errors"]["fieldErrors"]["email"][0]["type"] == "INVALID_EMAIL"
    assert bad["errors"]["fieldErrors"]["name"][0]["type"] == "REQUIRED"


def draft_body(client_id: int, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "clientId": client_id,
        "name": "Spring camp",
        "term": "NET_15",
        "date": "2026-10-01",
        "lineItems": [
            {"description": "Camp week", "quantity": 2, "price": 0.1, "salesTax": 0},
            {"description": "Camp shirt", "quantity": 1, "price": 0.2, "salesTax": 10},
        ],
    }
    body.update(changes)
    return body


async def test_draft_validation_codes(http: aiohttp.ClientSession, auth: dict[str, str]) -> None:
    _, clients = await get(http, "/v5/invoicing/clients", auth, pageSize=1)
    client_id = clients["data"][0]["id"]

    async def codes(body: dict[str, Any]) -> tuple[int, list[str]]:
        status, reply = await send(http, "POST", "/v5/invoicing/invoice", auth, body)
        errors = reply["errors"]
        found = [e["type"] for e in errors["globalErrors"]]
        found += [e["type"] for errs in errors["fieldErrors"].values() for e in errs]
        return status, found

    assert await codes(draft_body(client_id, discountAmount=5, discountPercent=10)) == (
        400,
        ["DISCOUNT_AMOUNT_AND_PERCENT"],
    )
    no_method = draft_body(client_id, acceptCredit=False, acceptACH=False, acceptCash=False)
    assert await codes(no_method) == (400, ["PAYMENT_METHOD_REQUIRED"])
    too_long = draft_body(client_id, customData={"note": "x" * 2001})
    assert await codes(too_long) == (400, ["CUSTOM_DATA_TOO_LONG"])
    assert await codes(draft_body(1)) == (400, ["CLIENT_NOT_FOUND"])
    assert await codes(draft_body(client_id, lineItems=[], term="NET_7")) == (
        400,
        ["INVALID_VALUE", "REQUIRED"],
    )


async def test_draft_lifecycle_is_visible_in_reads(
    http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    _, clients = await get(http, "/v5/invoicing/clients", auth, pageSize=1)
    client_id = clients["data"][0]["id"]
    status, created = await send(
        http, "POST", "/v5/invoicing/invoice", auth, draft_body(client_id, discountAmount=0.05)
    )
    assert status == 200
    invoice = created["invoice"]
    # 2 x 0.10 + 0.20 - 0.05 + 10% tax on 0.20 = 0.37
    assert (invoice["status"], invoice["totalAmountCents"], invoice["totalAmount"]) == (
        "DRAFT",
        37,
        0.37,
    )
    assert (invoice["dueDate"], invoice["salesTax"]) == ("2026-10-16", 0.02)
    path = f"/v5/invoicing/invoices/{created['invoiceId']}"
    status, _updated = await send(
        http, "PUT", "/v5/invoicing/invoice", auth,
        {"id": created["invoiceId"], "discountAmount": None, "discountPercent": 50},
    )  # fmt: skip
    assert status == 200
    assert (await get(http, path, auth))[1]["totalAmountCents"] == 22
    status, sent = await send(
        http, "POST", "/v5/invoicing/invoice/send", auth, {"id": created["invoiceId"]}
    )
    assert (status, sent["invoice"]["status"]) == (200, "OPEN")
    assert (await get(http, path, auth))[1]["sentDate"] is not None
    status, again = await send(
        http, "PUT", "/v5/invoicing/invoice", auth, {"id": created["invoiceId"], "name": "x"}
    )
    assert (status, again["errors"]["globalErrors"][0]["type"]) == (409, "INVOICE_NOT_DRAFT")
    status, refund = await send(
        http, "POST", "/v5/invoicing/invoice/refund", auth, {"id": created["invoiceId"]}
    )
    assert (status, refund["errors"]["globalErrors"][0]["type"]) == (409, "NOT_REFUNDABLE")
    status, cancelled = await send(
        http, "POST", "/v5/invoicing/invoice/cancel", auth, {"id": created["invoiceId"]}
    )
    assert (status, cancelled["invoice"]["status"]) == (200, "CANCELLED")
    assert (await get(http, path, auth))[1]["status"] == "CANCELLED"
    status, twice = await send(
        http, "POST", "/v5/invoicing/invoice/cancel", auth, {"id": created["invoiceId"]}
    )
    assert (status, twice["errors"]["globalErrors"][0]["type"]) == (409, "ALREADY_CANCELLED")


async def test_refund_of_a_paid_invoice(http: aiohttp.ClientSession, auth: dict[str, str]) -> None:
    _, page = await get(http, "/v5/invoicing/invoices", auth, status="CLOSED", pageSize=1)
    paid = page["data"][0]
    status, _body = await send(
        http, "POST", "/v5/invoicing/invoice/refund", auth, {"id": paid["id"]}
    )
    assert status == 200
    _, after = await get(http, f"/v5/invoicing/invoices/{paid['id']}", auth)
    assert (after["status"], after["refundStatus"], after["balance"]) == (
        "REFUNDED",
        "PENDING",
        0.0,
    )


async def test_request_log(http: aiohttp.ClientSession, auth: dict[str, str]) -> None:
    async with http.delete("/__sandbox/requests") as resp:
        assert resp.status == 204
    await get(http, "/v5/invoicing/invoices", auth, pageSize=2)
    async with http.get("/__sandbox/requests") as resp:
        log = await resp.json()
    assert [(e["method"], e["path"], e["query"], e["status"]) for e in log] == [
        ("GET", "/v5/invoicing/invoices", "pageSize=2", 200)
    ]


def test_seed_volume_and_variety() -> None:
    state = build(7)
    invoices = list(state.invoices.values())
    parents = [i for i in invoices if i["isRecurringParent"]]
    assert len(state.clients) >= 60
    assert len(invoices) >= 650
    assert sum(len(i["lineItems"]) for i in invoices) >= 2000
    assert len(parents) >= 110
    assert all(
        any(c["parentId"] == p["id"] for c in invoices)
        for p in parents[:5]
        if p["lastCreatedRecurringInvoice"]
    )
    statuses = Counter(i["status"] for i in invoices)
    assert set(statuses) == {"OPEN", "CLOSED", "CANCELLED", "DRAFT", "REFUNDED", "SCHEDULED"}
    assert {i["refundStatus"] for i in invoices} >= {"PENDING", "SUCCEEDED", "FAILED", "UNKNOWN"}
    assert {i["term"] for i in invoices} == {
        "DUE_NOW",
        "NET_10",
        "NET_15",
        "NET_30",
        "NET_60",
        "OTHER",
    }
    assert {p["frequency"] for p in parents} == {
        "WEEKLY", "BI_WEEKLY", "MONTHLY", "YEARLY", "AFTER_TWO_MINS"
    }  # fmt: skip
    assert {i["currency"] for i in invoices} == {"USD", "CAD"}
    assert any(i["installments"] for i in invoices)
    assert any(i["discountAmount"] is not None for i in invoices)
    assert any(i["discountPercent"] is not None for i in invoices)
    assert not any(
        i["discountAmount"] is not None and i["discountPercent"] is not None for i in invoices
    )
    partial = [
        i for i in invoices if i["status"] == "OPEN" and i["amountPaid"] > 0 and i["balance"] > 0
    ]
    assert partial


def test_same_seed_same_data() -> None:
    first, again, other = build(7), build(7), build(8)
    assert first.invoices == again.invoices
    assert first.clients == again.clients
    assert first.invoices != other.invoices


async def test_list_pages_of_any_size_up_to_500(
    http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    _, whole = await get(http, "/v5/invoicing/invoices", auth, pageSize=500)
    _, rest = await get(http, "/v5/invoicing/invoices", auth, page=2, pageSize=500)
    ids = [i["id"] for i in whole["data"] + rest["data"]]
    for size in (1, 7, 13, 99, 250, 499, 500):
        status, page = await get(http, "/v5/invoicing/invoices", auth, page=2, pageSize=size)
        assert status == 200
        assert [i["id"] for i in page["data"]] == ids[size : 2 * size]
    for size in (0, -1, 501):
        status, body = await get(http, "/v5/invoicing/invoices", auth, pageSize=size)
        assert (status, body["errors"]["globalErrors"][0]["type"]) == (400, "INVALID_VALUE")


@pytest.mark.parametrize(
    ("sort", "value"),
    [
        ("date", lambda i: i["date"]),
        ("dueDate", lambda i: i["dueDate"] or i["date"]),
        ("totalAmount", lambda i: i["totalAmountCents"]),
        ("invoiceNo", lambda i: f"{i['invoicePrefix']}{i['invoiceNo']}"),
    ],
)
async def test_invoice_sorts_break_ties_by_id_in_the_sort_direction(
    http: aiohttp.ClientSession, auth: dict[str, str], sort: str, value: Any
) -> None:
    lists = {}
    for direction in ("ASC", "DESC"):
        rows: list[dict[str, Any]] = []
        for page in (1, 2):
            _, body = await get(
                http, "/v5/invoicing/invoices", auth,
                sort=sort, sortDirection=direction, page=page, pageSize=500,
            )  # fmt: skip
            rows += body["data"]
        keys = [(value(i), i["id"]) for i in rows]
        assert keys == sorted(keys, reverse=direction == "DESC")
        lists[direction] = [i["id"] for i in rows]
    assert lists["DESC"] == lists["ASC"][::-1]


async def test_invoice_date_and_balance_filters(
    http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    _, everything = await get(http, "/v5/invoicing/invoices", auth, pageSize=500)
    _, rest = await get(http, "/v5/invoicing/invoices", auth, page=2, pageSize=500)
    invoices = everything["data"] + rest["data"]

    async def ids(**params: Any) -> set[int]:
        _, first = await get(http, "/v5/invoicing/invoices", auth, pageSize=500, **params)
        _, second = await get(http, "/v5/invoicing/invoices", auth, page=2, pageSize=500, **params)
        return {i["id"] for i in first["data"] + second["data"]}

    # Both ends of a range are included.
    assert await ids(startDate="2026-08-01", endDate="2026-08-31") == {
        i["id"] for i in invoices if "2026-08-01" <= i["date"] <= "2026-08-31"
    }
    assert await ids(dueStartDate="2026-09-15") == {
        i["id"] for i in invoices if i["dueDate"] >= "2026-09-15"
    }
    assert await ids(dueEndDate="2026-03-01") == {
        i["id"] for i in invoices if i["dueDate"] <= "2026-03-01"
    }
    owing = await ids(hasBalance="true")
    assert owing == {i["id"] for i in invoices if i["balance"] > 0}
    assert owing
    assert await ids(hasBalance="false") == {i["id"] for i in invoices} - owing
    assert await ids(startDate="2026-09-02", endDate="2026-09-01") == set()
    for bad in ({"startDate": "2026-9-1"}, {"dueEndDate": "yesterday"}):
        status, body = await get(http, "/v5/invoicing/invoices", auth, **bad)
        assert (status, body["errors"]["globalErrors"][0]["type"]) == (400, "INVALID_DATE")
    status, _ = await get(http, "/v5/invoicing/invoices", auth, hasBalance="yes")
    assert status == 400


async def test_client_search_and_email_filters_and_name_order(
    http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    _, page = await get(http, "/v5/invoicing/clients", auth, pageSize=500)
    clients = page["data"]
    someone = clients[5]
    needle = someone["name"].split()[-1][:3]

    def matching(text: str) -> list[int]:
        low = text.casefold()
        return [
            c["id"] for c in clients if low in c["name"].casefold() or low in c["email"].casefold()
        ]

    for search in (needle.upper(), f" {needle.lower()} ", "EXAMPLE.", "zzzz-nothing"):
        _, found = await get(http, "/v5/invoicing/clients", auth, search=search, pageSize=500)
        assert [c["id"] for c in found["data"]] == matching(search.strip())
        assert found["totalCount"] == len(found["data"])
    _, exact = await get(http, "/v5/invoicing/clients", auth, email=f" {someone['email'].upper()} ")
    assert [c["id"] for c in exact["data"]] == [someone["id"]]
    _, part = await get(http, "/v5/invoicing/clients", auth, email=someone["email"][1:])
    assert part["data"] == []
    _, desc = await get(http, "/v5/invoicing/clients", auth, sortDirection="DESC", pageSize=500)
    keys = [(c["name"].casefold(), c["id"]) for c in desc["data"]]
    assert keys == sorted(keys, reverse=True)
