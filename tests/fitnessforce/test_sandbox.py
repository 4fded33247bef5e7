"""The FitnessForce UFP sandbox over real HTTP: paths, formats, paging, auth, writes."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from clubgraph.connectors.fitnessforce import DEV_CREDENTIALS
from clubgraph.sandbox.fitnessforce.data import build_state
from clubgraph.sandbox.fitnessforce.state import (
    INVOICE_STATUSES,
    SUBSCRIPTION_STATUSES,
)
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox

DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
DATE = re.compile(r"^\d{4}-\d\d-\d\d$")


class Api:
    """A tiny UFP client for the tests."""

    def __init__(self, session: aiohttp.ClientSession, url: str, token: str) -> None:
        self.session, self.url, self.token = session, url, token

    async def call(
        self, method: str, path: str, *, json: Any = None, auth: bool = True, **params: Any
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        async with self.session.request(
            method, self.url + path, json=json, params=params, headers=headers
        ) as resp:
            text = await resp.text()
            return resp.status, (await resp.json(content_type=None)) if text else None


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["fitnessforce"])
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def api(sandbox: RunningSandbox) -> AsyncIterator[Api]:
    url = sandbox.urls["fitnessforce"]
    async with aiohttp.ClientSession() as session:
        body = {"username": DEV_CREDENTIALS.username, "password": DEV_CREDENTIALS.password}
        async with session.post(url + "/authentication/token", json=body) as resp:
            assert resp.status == 200
            token = await resp.json()
        assert set(token) == {"access_token", "token_type", "expires_in", "refresh_token"}
        assert (token["token_type"], token["expires_in"]) == ("Bearer", 3600)
        yield Api(session, url, token["access_token"])


async def test_requests_without_valid_token_are_refused_with_validation_errors(api: Api) -> None:
    status, body = await api.call("GET", "/tenants", auth=False)
    assert status == 401
    assert body == {
        "errors": [
            {
                "severity": "Error",
                "errorCode": "MissingToken",
                "errorMessage": "authentication token is missing, invalid or expired",
                "identifier": None,
                "helptext": None,
                "jsonObject": None,
            }
        ]
    }
    bad = Api(api.session, api.url, "nope")
    status, body = await bad.call("GET", "/tenants")
    assert (status, body["errors"][0]["errorCode"]) == (401, "InvalidToken")
    status, body = await api.call(
        "POST", "/authentication/token", json={"username": "sandbox", "password": "x"}, auth=False
    )
    assert (status, body["errors"][0]["errorCode"]) == (401, "InvalidCredentials")


async def test_token_expiry_and_refresh_rotation(api: Api) -> None:
    status, pair = await api.call(
        "POST", "/authentication/token", json={"username": "sandbox", "password": "sandbox-secret"}
    )
    assert status == 200
    mine = Api(api.session, api.url, pair["access_token"])
    assert (await mine.call("GET", "/tenants"))[0] == 200
    await api.session.post(api.url + "/__sandbox/tokens/expire")
    status, body = await mine.call("GET", "/tenants")
    assert (status, body["errors"][0]["errorCode"]) == (401, "TokenExpired")
    refresh = {"refresh_token": pair["refresh_token"]}
    status, fresh = await api.call("POST", "/authentication/refresh_token", json=refresh)
    assert status == 200
    assert fresh["refresh_token"] != pair["refresh_token"]
    status, body = await api.call("POST", "/authentication/refresh_token", json=refresh)
    assert (status, body["errors"][0]["errorCode"]) == (401, "InvalidRefreshToken")
    # Re-issue the module token for the tests that follow.
    status, again = await api.call(
        "POST", "/authentication/token", json={"username": "sandbox", "password": "sandbox-secret"}
    )
    api.token = again["access_token"]


async def test_tenants_and_paging_envelope(api: Api) -> None:
    status, body = await api.call("GET", "/tenants")
    assert status == 200
    assert [(t["tenant_id"], t["currency_code"]) for t in body["data"]] == [
        (101, "EUR"),
        (102, "GBP"),
    ]
    assert {k: body[k] for k in ("page_number", "page_size", "total_records", "total_pages")} == {
        "page_number": 1,
        "page_size": 25,
        "total_records": 2,
        "total_pages": 1,
    }
    status, tenant = await api.call("GET", "/tenant/102")
    assert (status, tenant["tenant_name"], tenant["tax_groups"][0]["tax_percentage"]) == (
        200,
        "FitForce Leeds City",
        20.0,
    )


async def test_clients_page_sorted_by_name_and_not_found(api: Api) -> None:
    seen: list[dict[str, Any]] = []
    for page in (1, 2, 3):
        status, body = await api.call(
            "GET", "/tenant/101/clients", page_number=page, page_size=30, sort_by="full_name"
        )
        assert status == 200
        seen.extend(body["data"])
    assert len(seen) == body["total_records"] >= 50
    names = [c["full_name"].casefold() for c in seen]
    assert names == sorted(names)
    client = seen[0]
    assert set(client) >= {"client_id", "first_name", "last_name", "email", "mobile_number"}
    assert DATETIME.match(client["created_date"])
    status, one = await api.call("GET", f"/tenant/101/clients/{client['client_id']}")
    assert (status, one) == (200, client)
    status, body = await api.call("GET", f"/tenant/102/clients/{client['client_id']}")
    assert (status, body["errors"][0]["errorCode"]) == (404, "ClientNotFound")
    status, body = await api.call("GET", "/tenant/101/clients", page_size=500)
    assert (status, body["errors"][0]["errorCode"]) == (400, "InvalidPageSize")


async def test_invoice_shape_formats_and_embedded_lines(api: Api) -> None:
    status, body = await api.call("GET", "/tenant/101/invoices", page_size=5)
    assert status == 200
    inv = body["data"][0]
    assert DATETIME.match(inv["invoice_date"])
    assert inv["due_date"] is None or DATE.match(inv["due_date"])
    assert re.match(r"^AMS-\d{6}$", inv["invoice_number"])
    assert inv["currency_code"] == "EUR"
    lines = inv["invoice_details"]
    assert lines
    assert set(lines[0]) == {
        "invoice_detail_id",
        "line_number",
        "charge_name",
        "charge_type",
        "quantity",
        "unit_price",
        "discount_amount",
        "tax_group",
        "tax_amount",
        "net_amount",
    }
    cents = round(sum(line["net_amount"] for line in lines) * 100)
    assert cents == round(inv["net_amount"] * 100)
    path = f"/tenant/101/clients/{inv['client_id']}/invoices/{inv['invoice_id']}"
    assert await api.call("GET", path) == (200, inv)


@pytest.mark.parametrize(
    ("sort_by", "key"),
    [("invoice_date", "invoice_date"), ("net_amount", "net_amount")],
)
async def test_tenant_invoices_sort_and_status_filter(api: Api, sort_by: str, key: str) -> None:
    status, body = await api.call(
        "GET",
        "/tenant/102/invoices",
        page_size=200,
        sort_by=sort_by,
        sort_order="asc",
        status="Paid,Refunded",
    )
    assert status == 200
    rows = body["data"]
    assert {r["status"] for r in rows} == {"Paid", "Refunded"}
    if key == "net_amount":
        assert [r[key] for r in rows] == sorted(r[key] for r in rows)
    status, body = await api.call("GET", "/tenant/102/invoices", sort_by="colour")
    assert (status, body["errors"][0]["errorCode"]) == (400, "InvalidSortField")


async def test_seed_volume_statuses_and_determinism() -> None:
    state = build_state(7)
    assert len(state.clients) >= 120
    assert len(state.invoices) >= 1000
    assert sum(len(i["invoice_details"]) for i in state.invoices.values()) >= 3500
    assert len(state.subscriptions) >= 300
    assert set(Counter(i["status"] for i in state.invoices.values())) == set(INVOICE_STATUSES)
    subs = {s["subscription_status"] for s in state.subscriptions.values()}
    assert subs == set(SUBSCRIPTION_STATUSES)
    assert {i["currency_code"] for i in state.invoices.values()} == {"EUR", "GBP"}
    assert Counter(c["tenant_id"] for c in state.clients.values()).keys() == {101, 102}
    assert any(i["refunded_amount"] for i in state.invoices.values())
    assert any(i["subscription_id"] is None for i in state.invoices.values())
    assert build_state(7) == state
    assert build_state(8) != state


async def test_clear_balance_link_documented_shape_and_validation(api: Api) -> None:
    status, body = await api.call("GET", "/tenant/101/invoices", status="Unpaid", page_size=200)
    inv = next(i for i in body["data"] if i["balance_amount"] > 0)
    path = (
        f"/tenant/101/clients/{inv['client_id']}/invoices/{inv['invoice_id']}"
        "/send_invoice_clear_balance_link"
    )
    async with api.session.post(
        api.url + path, json=["Email", "Task"], headers={"Authorization": f"Bearer {api.token}"}
    ) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/plain"
        results = await resp.json(content_type=None)
    assert [(r["channel"], r["client_id"], r["staff_id"]) for r in results] == [
        ("Email", inv["client_id"], inv["sales_rep"]["staff_id"]),
        ("Task", inv["client_id"], inv["sales_rep"]["staff_id"]),
    ]
    assert results[1] == {
        "channel": "Task",
        "client_id": inv["client_id"],
        "staff_id": inv["sales_rep"]["staff_id"],
        "success": True,
        "error": None,
    }
    status, body = await api.call("POST", path, json=["Fax"])
    assert (status, body["errors"][0]["errorCode"]) == (400, "InvalidChannel")
    _, after = await api.call("GET", path.rsplit("/", 1)[0])
    assert [c["channel"] for c in after["communication_log"]][-1] == "Task"


async def test_void_invoice_changes_later_reads(api: Api) -> None:
    _, body = await api.call("GET", "/tenant/102/invoices", status="Unpaid", page_size=1)
    inv = body["data"][0]
    path = f"/tenant/102/clients/{inv['client_id']}/invoices/{inv['invoice_id']}"
    status, err = await api.call("POST", path + "/void", json={})
    assert (status, err["errors"][0]["errorCode"]) == (400, "FieldRequired")
    status, voided = await api.call("POST", path + "/void", json={"reason": "test"})
    assert (status, voided["status"], voided["balance_amount"]) == (200, "Void", 0.0)
    assert (await api.call("GET", path))[1]["status"] == "Void"
    status, err = await api.call("POST", path + "/void", json={"reason": "again"})
    assert (status, err["errors"][0]["errorCode"]) == (409, "InvoiceAlreadyVoid")
    _, paid = await api.call("GET", "/tenant/102/invoices", status="Paid", page_size=1)
    p = paid["data"][0]
    status, err = await api.call(
        "POST",
        f"/tenant/102/clients/{p['client_id']}/invoices/{p['invoice_id']}/void",
        json={"reason": "x"},
    )
    assert (status, err["errors"][0]["errorCode"]) == (409, "InvoiceHasPayments")


async def test_invoice_pdf_and_sales_rep(api: Api) -> None:
    _, body = await api.call("GET", "/tenant/101/invoices", page_size=1)
    inv = body["data"][0]
    path = f"/tenant/101/clients/{inv['client_id']}/invoices/{inv['invoice_id']}"
    async with api.session.get(
        api.url + path + "/pdf", headers={"Authorization": f"Bearer {api.token}"}
    ) as resp:
        assert (resp.status, resp.content_type) == (200, "application/pdf")
        pdf = await resp.read()
    assert pdf.startswith(b"%PDF-1.4")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert inv["invoice_number"].encode() in pdf
    status, err = await api.call("POST", path + "/change_sales_rep", json={"staff_id": 201})
    assert (status, err["errors"][0]["errorCode"]) == (400, "StaffNotFound")
    status, changed = await api.call("POST", path + "/change_sales_rep", json={"staff_id": 102})
    assert (status, changed["sales_rep"]) == (200, {"staff_id": 102, "staff_name": "Joost Bakker"})


async def test_subscription_lifecycle_writes(api: Api) -> None:
    _, body = await api.call("GET", "/tenant/101/subscriptions", status="Active", page_size=200)
    sub = next(s for s in body["data"] if not s["freezes"])
    base = f"/tenant/101/clients/{sub['client_id']}/subscriptions/{sub['subscription_id']}"
    status, err = await api.call(
        "POST",
        base + "/freezes",
        json={"freeze_start_date": "2027-02-10", "freeze_end_date": "2027-02-01", "reason": "x"},
    )
    assert (status, err["errors"][0]["errorCode"]) == (400, "FreezeEndBeforeStart")
    status, freeze = await api.call(
        "POST",
        base + "/freezes",
        json={"freeze_start_date": "2020-01-01", "freeze_end_date": "2099-01-01", "reason": "x"},
    )
    assert (status, freeze["status"]) == (201, "Active")
    assert (await api.call("GET", base))[1]["subscription_status"] == "Frozen"
    fpath = f"{base}/freezes/{freeze['freeze_id']}"
    status, err = await api.call("POST", fpath + "/cancel")
    assert (status, err["errors"][0]["errorCode"]) == (409, "FreezeNotScheduled")
    assert (await api.call("POST", fpath + "/stop"))[1]["status"] == "Stopped"
    status, cancelled = await api.call(
        "POST", base + "/cancel", json={"reason": "Moving", "cancellation_date": "2099-12-31"}
    )
    assert (status, cancelled["subscription_status"]) == (200, "PendingCancellation")
    status, active = await api.call("POST", base + "/reactivate")
    assert (status, active["subscription_status"], active["cancellation"]) == (200, "Active", None)
    status, err = await api.call("PUT", base + "/end_date", json={"end_date": "1999-01-01"})
    assert (status, err["errors"][0]["errorCode"]) == (400, "EndDateBeforeStartDate")
    status, err = await api.call("PUT", base + "/end_date", json={"end_date": "31/12/2027"})
    assert (status, err["errors"][0]["errorCode"]) == (400, "InvalidDate")
    status, changed = await api.call("PUT", base + "/end_date", json={"end_date": "2099-06-30"})
    assert (status, changed["end_date"]) == (200, "2099-06-30")
    status, voided = await api.call("POST", base + "/void", json={"reason": "dup"})
    assert (status, voided["subscription_status"]) == (200, "Void")
    status, err = await api.call("POST", base + "/cancel", json={"reason": "x"})
    assert (status, err["errors"][0]["errorCode"]) == (409, "SubscriptionNotActive")


async def test_subscription_reads_plans_and_invoices(api: Api) -> None:
    _, body = await api.call("GET", "/tenant/102/subscriptions", page_size=200)
    starts = [s["start_date"] for s in body["data"]]
    assert starts == sorted(starts, reverse=True)
    sub = next(s for s in body["data"] if s["subscription_status"] == "Expired")
    assert DATE.match(sub["start_date"])
    assert sub["currency_code"] == "GBP"
    base = f"/tenant/102/clients/{sub['client_id']}/subscriptions/{sub['subscription_id']}"
    _, invoices = await api.call("GET", base + "/invoices", page_size=200)
    assert invoices["total_records"] >= 1
    assert {i["subscription_id"] for i in invoices["data"]} == {sub["subscription_id"]}
    status, plan = await api.call("GET", f"/tenant/102/subscription_plans/{sub['plan_id']}")
    assert (status, plan["plan_name"]) == (200, sub["plan_name"])
    status, plans = await api.call("GET", "/tenant/102/subscription_plans")
    assert plans["total_records"] == 8


async def test_request_log(api: Api) -> None:
    await api.session.delete(api.url + "/__sandbox/requests")
    await api.call("GET", "/tenant/101/clients/10001")
    await api.call("GET", "/tenants", auth=False)
    async with api.session.get(api.url + "/__sandbox/requests") as resp:
        log = await resp.json()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("GET", "/tenant/101/clients/10001", log[0]["status"]),
        ("GET", "/tenants", 401),
    ]
    assert log[0]["status"] in (200, 404)


@pytest.mark.parametrize("sort_by", ["invoice_date", "due_date", "net_amount", "invoice_number"])
async def test_invoice_lists_break_ties_by_id_in_the_sort_direction(api: Api, sort_by: str) -> None:
    pages = {}
    for order in ("asc", "desc"):
        status, body = await api.call(
            "GET", "/tenant/101/invoices", page_size=200, sort_by=sort_by, sort_order=order
        )
        assert status == 200
        pages[order] = body
    total = pages["asc"]["total_records"]
    assert total > 200
    # Any page size up to the maximum pages the same list.
    rows: list[dict[str, Any]] = []
    for page in range(1, total // 187 + 2):
        _, body = await api.call(
            "GET", "/tenant/101/invoices", page_size=187, page_number=page, sort_by=sort_by
        )
        rows.extend(body["data"])
    ids = [r["invoice_id"] for r in rows]
    assert len(ids) == len(set(ids)) == total
    assert ids[:200] == [r["invoice_id"] for r in pages["desc"]["data"]]
    _, last = await api.call(
        "GET",
        "/tenant/101/invoices",
        page_size=200,
        page_number=(total + 199) // 200,
        sort_by=sort_by,
        sort_order="asc",
    )
    tail = [r["invoice_id"] for r in last["data"]]
    assert ids[: len(tail)] == tail[::-1]


async def test_invoice_list_filters(api: Api) -> None:
    async def ids(**params: Any) -> list[dict[str, Any]]:
        status, body = await api.call("GET", "/tenant/102/invoices", page_size=200, **params)
        assert status == 200
        rows: list[dict[str, Any]] = body["data"]
        assert body["total_records"] == len(rows)
        return rows

    march = await ids(from_date="2025-03-01", to_date="2025-03-31")
    assert march
    assert {r["invoice_date"][:7] for r in march} == {"2025-03"}
    due = await ids(due_from_date="2026-05-01", due_to_date="2026-05-10")
    assert due
    assert all("2026-05-01" <= r["due_date"] <= "2026-05-10" for r in due)
    owed = await ids(outstanding_only="true", from_date="2026-01-01")
    assert owed
    assert all(r["balance_amount"] > 0 for r in owed)
    for name, value, code in (
        ("from_date", "01/03/2025", "InvalidDate"),
        ("due_to_date", "20250301", "InvalidDate"),
        ("outstanding_only", "yes", "InvalidBoolean"),
    ):
        status, body = await api.call("GET", "/tenant/102/invoices", **{name: value})
        assert (status, body["errors"][0]["errorCode"], body["errors"][0]["identifier"]) == (
            400,
            code,
            name,
        )


async def test_client_search_endpoints(api: Api) -> None:
    _, body = await api.call("GET", "/tenant/101/clients", page_size=200, sort_by="full_name")
    everyone = body["data"]
    status, found = await api.call(
        "GET", "/tenant/101/clients/search", search_text=" AN ", page_size=200
    )
    assert status == 200
    assert [c["client_id"] for c in found["data"]] == [
        c["client_id"]
        for c in everyone
        if "an" in c["full_name"].casefold() or "an" in (c["email"] or "").casefold()
    ]
    someone = next(c for c in everyone if c["email"])
    _, exact = await api.call(
        "GET", "/tenant/101/clients/search", email=someone["email"].upper(), sort_order="desc"
    )
    assert [c["client_id"] for c in exact["data"]] == [
        c["client_id"] for c in reversed(everyone) if c["email"] == someone["email"]
    ]
    _, across = await api.call("GET", "/clients/search", search_text="a", page_size=200)
    assert {c["tenant_id"] for c in across["data"]} == {101, 102}
    _, one = await api.call("GET", "/clients/search", search_text="a", tenant_id="102")
    assert {c["tenant_id"] for c in one["data"]} == {102}
    status, body = await api.call("GET", "/tenant/101/clients/search")
    assert (status, body["errors"][0]["errorCode"]) == (400, "SearchCriteriaRequired")
    status, body = await api.call("GET", "/clients/search", search_text="a", tenant_id="999")
    assert (status, body["errors"][0]["errorCode"]) == (404, "TenantNotFound")
    status, body = await api.call("GET", f"/tenant/101/clients/{someone['client_id']}")
    assert (status, body["client_id"]) == (200, someone["client_id"])
