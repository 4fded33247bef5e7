"""The TimeTap sandbox over real HTTP: paths, formats, paging, auth, errors, writes."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from clubgraph.connectors.timetap import DEV_CREDENTIALS
from clubgraph.sandbox import people
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox
from clubgraph.sandbox.timetap.data import build_state
from clubgraph.sandbox.timetap.model import STATE

START_MS = int(people.SEED_START.timestamp() * 1000)
NOW_MS = int(people.SEED_NOW.timestamp() * 1000)
INVOICE_FIELDS = {
    "invoiceId", "businessId", "invoiceNumber", "invoiceType", "invoiceHash", "status",
    "subStatus", "active", "currency", "invoiceDate", "invoiceDueDate", "chargeDate",
    "createdDate", "lastStatusDate", "paidOnDate", "createdUser", "modifiedUser", "comments",
    "preAuthPayment", "billingLocationId", "billingStaffId", "location", "staff",
    "subtotalAmount", "taxAmount", "tax2Amount", "tipAmount", "transactionFeeAmount",
    "depositAmount", "paidAmount", "writeOffAmount", "balanceAmount", "client", "invoiceItem",
}  # fmt: skip
ITEM_FIELDS = {
    "invoiceItemId", "invoiceId", "businessId", "clientId", "active", "itemType", "description",
    "quantity", "rate", "grossAmount", "discountAmount", "discountPercentage", "netAmount",
    "taxable", "taxAmount", "tax2Amount", "calendarId", "productId", "packageSoldId",
    "recurringAppointmentId", "giftCardUUId", "reasonId", "depositAmount", "createdDate",
    "createdUser", "modifiedUser",
}  # fmt: skip


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["timetap"])
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Api:
    """A tiny TimeTap client for one business."""

    def __init__(self, http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> None:
        self.http, self.url, self.headers = http, url, headers

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        async with self.http.request(method, self.url + path, headers=self.headers, **kw) as r:
            return r.status, await r.json()

    async def get(self, path: str, **params: Any) -> Any:
        status, body = await self.call("GET", path, params={k: str(v) for k, v in params.items()})
        assert status == 200, body
        return body


async def session_token(http: aiohttp.ClientSession, url: str, index: int = 0) -> str:
    pair = DEV_CREDENTIALS.keys[index]
    sig = hashlib.md5((pair.api_key + pair.private_key).encode()).hexdigest()
    params = {"apiKey": pair.api_key, "timestamp": str(int(time.time())), "signature": sig}
    async with http.get(url + "/sessionToken", params=params) as resp:
        assert resp.status == 200
        body = await resp.json()
    token = body["sessionToken"]
    assert isinstance(token, str)
    assert token.startswith("st:api:api:")
    return token


async def api_for(http: aiohttp.ClientSession, sandbox: RunningSandbox, index: int = 0) -> Api:
    url = sandbox.urls["timetap"]
    token = await session_token(http, url, index)
    return Api(http, url, {"Authorization": f"Bearer {token}"})


def error_codes(body: Any) -> list[str]:
    assert set(body) == {"errors"}
    for e in body["errors"]:
        assert set(e) == {"errorCode", "errorMessage", "fieldName"}
    return [e["errorCode"] for e in body["errors"]]


async def test_requests_without_a_valid_session_are_refused(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    url = sandbox.urls["timetap"]
    for headers, code in [
        ({}, "SESSION_TOKEN_MISSING"),
        ({"Authorization": "Bearer st:api:api:nope"}, "INVALID_SESSION_TOKEN"),
    ]:
        async with http.get(url + "/invoices/status/OPEN", headers=headers) as resp:
            assert resp.status == 401
            assert error_codes(await resp.json()) == [code]
    pair = DEV_CREDENTIALS.keys[0]
    now = str(int(time.time()))
    good = hashlib.md5((pair.api_key + pair.private_key).encode()).hexdigest()
    cases = [
        (
            {"apiKey": pair.api_key, "timestamp": now, "signature": "0" * 32},
            401,
            "INVALID_SIGNATURE",
        ),
        ({"apiKey": "nobody", "timestamp": now, "signature": good}, 401, "INVALID_API_KEY"),
        (
            {"apiKey": pair.api_key, "timestamp": "1000", "signature": good},
            401,
            "INVALID_TIMESTAMP",
        ),
        ({"apiKey": pair.api_key, "timestamp": now}, 400, "REQUIRED_FIELD_MISSING"),
    ]
    for params, status, code in cases:
        async with http.get(url + "/sessionToken", params=params) as resp:
            assert resp.status == status
            assert error_codes(await resp.json()) == [code]


async def test_expired_session_token_is_refused(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    api = await api_for(http, sandbox)
    token = api.headers["Authorization"].removeprefix("Bearer ")
    sandbox.apps["timetap"][STATE].sessions[token].expires_at = time.time() - 1
    status, body = await api.call("GET", "/invoices/status/OPEN")
    assert status == 401
    assert error_codes(body) == ["SESSION_TOKEN_EXPIRED"]


async def test_invoice_shape_dates_and_money(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    api = await api_for(http, sandbox)
    async with http.get(
        api.url + "/invoices/status/CLOSED",
        headers=api.headers,
        params={"pageNumber": "1", "pageSize": "50"},
    ) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        text = await resp.text()
        page = await resp.json()
    assert len(page) == 50
    # Amounts are JSON numbers with cents (documented "integer", really money).
    assert '"rate":49.95' in text or '"rate":109.95' in text
    for inv in page:
        assert set(inv) == INVOICE_FIELDS
        assert inv["businessId"] == 50101
        assert inv["currency"] == "USD"
        assert inv["status"] == "CLOSED"
        assert inv["subStatus"] in ("Paid", "Manual")
        assert START_MS <= inv["invoiceDate"] <= NOW_MS
        assert isinstance(inv["invoiceDate"], int)
        assert inv["client"]["businessId"] == 50101
        assert {"clientId", "firstName", "lastName", "emailAddress", "cellPhone"} <= set(
            inv["client"]
        )
        assert inv["invoiceItem"]
        for item in inv["invoiceItem"]:
            assert set(item) == ITEM_FIELDS
            assert item["invoiceId"] == inv["invoiceId"]
            assert item["active"] is True
        if inv["subStatus"] == "Paid":
            assert inv["balanceAmount"] == 0


async def test_listing_pages_orders_and_covers_every_status(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    api = await api_for(http, sandbox)
    whole = await api.get("/invoices/status/OPEN", order_field="invoiceDate", order_mode="desc")
    pages: list[Any] = []
    for number in range(1, 10):
        page = await api.get(
            "/invoices/status/OPEN",
            pageNumber=number,
            pageSize=40,
            order_field="invoiceDate",
            order_mode="desc",
        )
        pages.extend(page)
        if len(page) < 40:
            break
    assert [i["invoiceId"] for i in pages] == [i["invoiceId"] for i in whole]
    assert len({i["invoiceId"] for i in pages}) == len(pages) > 100
    dates = [i["invoiceDate"] for i in whole]
    assert dates == sorted(dates, reverse=True)
    assert {i["subStatus"] for i in whole} == {
        "No Payment",
        "Partial Payment",
        "Payment Declined",
        "Manual",
    }
    partial = [i for i in whole if i["subStatus"] == "Partial Payment"]
    assert all(i["paidAmount"] > 0 and i["balanceAmount"] > 0 for i in partial)
    numbers = await api.get("/invoices/status/VOID", order_field="invoiceNumber")
    keys = [i["invoiceNumber"] or "" for i in numbers]
    assert keys == sorted(keys)
    for params, code in [
        ({"order_mode": "sideways"}, "INVALID_ORDER_MODE"),
        ({"order_field": "colour"}, "INVALID_ORDER_FIELD"),
        ({"pageNumber": "0", "pageSize": "10"}, "INVALID_PAGE_PARAMETER"),
    ]:
        status, body = await api.call("GET", "/invoices/status/OPEN", params=params)
        assert status == 400
        assert error_codes(body) == [code]
    status, body = await api.call("GET", "/invoices/status/DELETED")
    assert status == 400
    assert error_codes(body) == ["INVALID_STATUS"]


async def test_date_filters(sandbox: RunningSandbox, http: aiohttp.ClientSession) -> None:
    api = await api_for(http, sandbox)
    rows = await api.get(
        "/invoices/status/CLOSED", invoiceStartDate="2026-03-01", invoiceEndDate="2026-03-31"
    )
    assert rows
    lo = int(time.mktime(time.strptime("2026-03-01", "%Y-%m-%d")))
    assert all(lo * 1000 - 86_400_000 <= r["invoiceDate"] for r in rows)
    status, body = await api.call(
        "GET", "/invoices/status/CLOSED", params={"invoiceStartDate": "03/01/2026"}
    )
    assert status == 400
    assert error_codes(body) == ["INVALID_DATE"]


async def test_volume_and_businesses(sandbox: RunningSandbox, http: aiohttp.ClientSession) -> None:
    clients = invoices = items = 0
    statuses: set[tuple[str, str]] = set()
    for index, business in enumerate((50101, 50102)):
        api = await api_for(http, sandbox, index)
        assert (await api.get("/business"))["businessId"] == business
        report = await api.get("/clientList/reportWithCount", pageNumber=1, pageSize=10)
        clients += report["count"]
        assert len(report["clientList"]) == 10
        for status in ("OPEN", "CLOSED", "VOID"):
            rows = await api.get(f"/invoices/status/{status}")
            invoices += len(rows)
            statuses |= {(r["status"], r["subStatus"]) for r in rows}
            assert all(r["businessId"] == business for r in rows)
        item_report = await api.get("/invoiceItemList/reportWithCount", pageNumber=1, pageSize=5)
        items += item_report["count"]
        assert len(item_report["invoiceItemList"]) == 5
    assert clients >= 85
    assert invoices >= 900
    assert items >= 3200
    assert {"OPEN", "CLOSED", "VOID"} == {s for s, _ in statuses}
    state = sandbox.apps["timetap"][STATE]
    assert any(i["status"] == "DELETED" and not i["active"] for i in state.invoices.values())
    lines = list(state.items.values())
    assert any(i["itemType"] == "REFUND" and i["rate"] < 0 for i in lines)
    assert any(i["discountPercentage"] for i in lines)
    assert any(i["discountAmount"] for i in lines)
    assert any(i["tax2Amount"] for i in lines)
    assert any(i["writeOffAmount"] for i in state.invoices.values())
    assert any(i["depositAmount"] for i in state.invoices.values())
    assert any(i["tipAmount"] for i in state.invoices.values())


async def test_clients_are_business_scoped_and_sorted(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    first = await api_for(http, sandbox, 0)
    second = await api_for(http, sandbox, 1)
    report = await first.get("/clientList/reportWithCount", order_field="fullName")
    names = [c["fullName"].casefold() for c in report["clientList"]]
    assert names == sorted(names)
    assert len(names) == report["count"]
    client = report["clientList"][0]
    assert await first.get(f"/clients/{client['clientId']}") == client
    status, body = await second.call("GET", f"/clients/{client['clientId']}")
    assert status == 404
    assert error_codes(body) == ["CLIENT_NOT_FOUND"]
    invoices = await first.get(f"/invoices/client/{client['clientId']}")
    assert all(i["client"]["clientId"] == client["clientId"] for i in invoices)
    status, body = await second.call("GET", f"/invoices/{invoices[0]['invoiceId']}")
    assert status == 404
    assert error_codes(body) == ["INVOICE_NOT_FOUND"]


async def test_invoice_writes_change_later_reads(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    api = await api_for(http, sandbox)
    client = (await api.get("/clientList/reportWithCount", pageNumber=1, pageSize=1))["clientList"][
        0
    ]
    cid = client["clientId"]
    line = {"businessId": 50101, "clientId": cid, "active": True, "quantity": 2, "rate": 49.95}
    status, created = await api.call(
        "POST",
        f"/invoices/client/{cid}",
        params={"invoiceType": "INVOICE"},
        json=[
            {**line, "discountPercentage": 10, "taxable": True},
            {**line, "quantity": 1, "rate": 0.1},
        ],
    )
    assert status == 200, created
    assert (created["status"], created["subStatus"]) == ("OPEN", "No Payment")
    assert [i["netAmount"] for i in created["invoiceItem"]] == [89.91, 0.1]
    assert created["subtotalAmount"] == 90.01
    assert created["taxAmount"] == 7.42  # 8.25% of 89.91
    inv_id = created["invoiceId"]
    assert await api.get(f"/invoices/{inv_id}") == created
    assert inv_id in [i["invoiceId"] for i in await api.get(f"/invoices/client/{cid}")]

    status, item = await api.call(
        "POST", "/invoiceItem", json={**line, "invoiceId": inv_id, "quantity": 1, "rate": 15}
    )
    assert status == 200
    assert item["netAmount"] == 15
    after = await api.get(f"/invoices/{inv_id}")
    assert after["subtotalAmount"] == 105.01
    assert len(after["invoiceItem"]) == 3
    status, _ = await api.call("DELETE", f"/invoiceItem/{item['invoiceItemId']}")
    assert status == 200
    assert len((await api.get(f"/invoices/{inv_id}"))["invoiceItem"]) == 2

    status, body = await api.call(
        "PUT", "/invoices", json={"invoiceId": inv_id, "businessId": 50101, "status": "CLOSED"}
    )
    assert status == 400
    assert error_codes(body) == ["SUBSTATUS_MUST_BE_MANUAL"]
    status, body = await api.call(
        "PUT",
        "/invoices",
        json={"invoiceId": inv_id, "businessId": 50101, "status": "VOID", "subStatus": "Manual"},
    )
    assert status == 200
    assert (body["status"], body["subStatus"]) == ("VOID", "Manual")
    assert inv_id in [i["invoiceId"] for i in await api.get("/invoices/status/VOID")]
    status, body = await api.call("POST", "/invoiceItem", json={**line, "invoiceId": inv_id})
    assert status == 400
    assert error_codes(body) == ["INVOICE_NOT_OPEN"]

    status, body = await api.call("DELETE", f"/invoices/{inv_id}")
    assert status == 200
    assert (body["active"], body["status"]) == (False, "DELETED")
    assert inv_id not in [i["invoiceId"] for i in await api.get("/invoices/status/VOID")]
    assert inv_id not in [i["invoiceId"] for i in await api.get(f"/invoices/client/{cid}")]


async def test_create_invoice_and_validation_codes(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    api = await api_for(http, sandbox)
    status, body = await api.call("POST", "/invoices", json={"businessId": 50101})
    assert status == 400
    assert error_codes(body) == [
        "REQUIRED_FIELD_MISSING",
        "REQUIRED_FIELD_MISSING",
        "INVALID_INVOICE_TYPE",
    ]
    status, body = await api.call("POST", "/invoices", json={"businessId": 50102})
    assert status == 403
    assert error_codes(body) == ["BUSINESS_ACCESS_DENIED"]
    client = (await api.get("/clients"))[3]
    status, invoice = await api.call(
        "POST",
        "/invoices",
        json={
            "businessId": 50101,
            "client": {"clientId": client["clientId"]},
            "invoiceDate": 1790000000000,
            "invoiceType": "INVOICE",
            "invoiceNumber": "API-1",
        },
    )
    assert status == 200
    assert invoice["invoiceNumber"] == "API-1"
    assert invoice["client"] == client
    assert invoice["invoiceItem"] == []
    status, body = await api.call(
        "POST",
        "/invoiceItems",
        json=[
            {
                "businessId": 50101,
                "clientId": client["clientId"],
                "invoiceId": invoice["invoiceId"],
                "active": True,
                "quantity": 1.5,
                "rate": 1.234,
            }
        ],
    )
    assert status == 400
    assert error_codes(body) == ["INVALID_QUANTITY", "INVALID_AMOUNT"]
    status, body = await api.call("PUT", "/invoices", json={"businessId": 50101})
    assert status == 400
    assert error_codes(body) == ["REQUIRED_FIELD_MISSING"]
    status, body = await api.call("GET", "/invoices/99")
    assert status == 404
    assert error_codes(body) == ["INVOICE_NOT_FOUND"]


async def test_uninvoiced_items_move_onto_a_new_invoice(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    api = await api_for(http, sandbox)
    client = (await api.get("/clients"))[0]
    pending = await api.get(f"/invoiceItem/client/{client['clientId']}/uninvoiced")
    assert pending
    assert all(i["invoiceId"] is None for i in pending)
    status, invoice = await api.call(
        "POST", f"/invoices/client/{client['clientId']}", params={"invoiceType": "QUOTE"},
        json=[{"invoiceItemId": pending[0]["invoiceItemId"]}],
    )  # fmt: skip
    assert status == 200
    assert invoice["invoiceType"] == "QUOTE"
    assert [i["invoiceItemId"] for i in invoice["invoiceItem"]] == [pending[0]["invoiceItemId"]]
    assert await api.get(f"/invoiceItem/client/{client['clientId']}/uninvoiced") == pending[1:]
    status, body = await api.call(
        "POST", f"/invoices/client/{client['clientId']}", params={"invoiceType": "TRANSFER_IN"},
        json=[],
    )  # fmt: skip
    assert status == 400
    assert error_codes(body) == ["INVALID_INVOICE_TYPE"]


async def test_request_log(sandbox: RunningSandbox, http: aiohttp.ClientSession) -> None:
    url = sandbox.urls["timetap"]
    async with http.delete(url + "/__sandbox/requests") as resp:
        assert resp.status == 204
    api = await api_for(http, sandbox)
    await api.get("/invoices/status/VOID", pageNumber=2, pageSize=7)
    async with http.get(url + "/__sandbox/requests") as resp:
        log = await resp.json()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("GET", "/sessionToken", 200),
        ("GET", "/invoices/status/VOID", 200),
    ]
    assert log[1]["query"] == "pageNumber=2&pageSize=7"


def test_same_seed_same_data() -> None:
    a, b, c = build_state(7), build_state(7), build_state(8)
    assert a.invoices == b.invoices
    assert a.items == b.items
    assert a.clients == b.clients
    assert a.invoices != c.invoices


async def test_lists_break_ties_by_id_in_the_same_direction(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    api = await api_for(http, sandbox)
    for mode in ("asc", "desc"):
        rows = await api.get("/invoices/status/OPEN", order_field="invoiceNumber", order_mode=mode)
        keys = [(i["invoiceNumber"] or "", i["invoiceId"]) for i in rows]
        assert keys == sorted(keys, reverse=mode == "desc")
        assert len({k for k, _ in keys}) < len(keys)  # invoices without a number tie
        report = await api.get(
            "/clientList/reportWithCount", order_field="fullName", order_mode=mode
        )
        names = [(c["fullName"].casefold(), c["clientId"]) for c in report["clientList"]]
        assert names == sorted(names, reverse=mode == "desc")


async def test_client_list_search_and_email(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    api = await api_for(http, sandbox)
    everyone = (await api.get("/clientList/reportWithCount"))["clientList"]
    found = await api.get("/clientList/reportWithCount", searchString=" AN ")
    expected = [
        c
        for c in everyone
        if "an" in c["fullName"].casefold() or "an" in (c["emailAddress"] or "").casefold()
    ]
    assert found["clientList"] == expected
    assert found["count"] == len(expected) > 0
    one = next(c for c in everyone if c["emailAddress"])
    by_email = await api.get(
        "/clientList/reportWithCount", emailAddress=f" {one['emailAddress'].upper()} "
    )
    assert [c["clientId"] for c in by_email["clientList"]] == [one["clientId"]]
    assert (await api.get("/clientList/reportWithCount", searchString="zzqx"))["count"] == 0
