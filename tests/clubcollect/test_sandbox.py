"""The ClubCollect sandbox over real HTTP: paths, formats, auth, validation, writes."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from clubgraph.connectors.clubcollect import DEV_CREDENTIALS
from clubgraph.connectors.clubcollect.mapping import customer_key
from clubgraph.sandbox.clubcollect.data import build_state
from clubgraph.sandbox.clubcollect.protocol import STATE
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox

AUTH = {"Authorization": f"ApiKey {DEV_CREDENTIALS.api_key}"}
ISO_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


@pytest_asyncio.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["clubcollect"])
    yield running
    await running.stop()


@pytest_asyncio.fixture(scope="module")
async def http(sandbox: RunningSandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(sandbox.urls["clubcollect"], headers=AUTH) as session:
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, path: str, **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, path, **kwargs) as resp:
        body = await resp.json() if resp.content_type == "application/json" else None
        return resp.status, body


def state(sandbox: RunningSandbox) -> Any:
    return sandbox.apps["clubcollect"][STATE]


def first(sandbox: RunningSandbox, status: str) -> dict[str, Any]:
    return next(i for i in state(sandbox).invoices.values() if i["status"] == status)


async def new_import(http: aiohttp.ClientSession, company: str = "cmp_utrecht_rc") -> str:
    status, body = await call(http, "POST", "/api/v2/imports", json={"company_id": company})
    assert status == 200
    assert body["transmitted"] is False
    return str(body["import_id"])


def invoice_body(import_id: str, /, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "import_id": import_id,
        "external_invoice_number": "URC-TEST-1",
        "club_membership_number": "URC-99999",
        "customer": {
            "name": {"first_name": "Test", "infix": "van", "last_name": "Dam"},
            "email": {"email_address": "test.vandam@example.com"},
        },
        "invoice_lines": [
            {"amount_cents": 10, "description": "Tien cent"},
            {"amount_cents": 20, "description": "Twintig cent"},
            {"amount_cents": 4500, "description": "Contributie"},
        ],
        "amount_total_cents": 4530,
    }
    body.update(changes)
    return body


async def test_requests_without_valid_key_are_refused(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    url = sandbox.urls["clubcollect"] + "/api/v2/companies"
    async with aiohttp.ClientSession() as anon:
        for headers in ({}, {"Authorization": "ApiKey wrong"}, {"Authorization": "Bearer x"}):
            async with anon.get(url, headers=headers) as resp:
                assert resp.status == 401
                assert await resp.json() == {"error": "unauthorized"}
        # The deprecated query parameter still authenticates.
        async with anon.get(url, params={"api_key": DEV_CREDENTIALS.api_key}) as resp:
            assert resp.status == 200


async def test_companies(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "GET", "/api/v2/companies")
    assert status == 200
    assert [c["company_id"] for c in body["companies"]] == ["cmp_amsterdam_hc", "cmp_utrecht_rc"]
    assert body["page"] == {"page_number": 1, "total_pages": 1}
    status, company = await call(http, "GET", "/api/v2/companies/cmp_utrecht_rc")
    assert (status, company["currency"], company["country_code"]) == (200, "EUR", "NL")
    assert await call(http, "GET", "/api/v2/companies/nope") == (404, {"errors": "not_found"})


async def test_imports_page_oldest_first(http: aiohttp.ClientSession) -> None:
    seen: list[dict[str, Any]] = []
    page = 1
    while True:
        status, body = await call(
            http,
            "GET",
            "/api/v2/companies/cmp_amsterdam_hc/imports",
            params={"page_number": page, "page_size": 5},
        )
        assert status == 200
        assert body["page"]["page_number"] == page
        seen += body["imports"]
        if page == body["page"]["total_pages"]:
            break
        page += 1
    assert page == 5
    assert len(seen) >= 22
    assert set(seen[0]) == {"company_id", "import_id", "title", "transmitted", "transmitted_at"}
    assert seen[0]["title"] == "Contributie 2025/01"
    assert seen[21]["title"] == "Contributie 2026/10"
    assert seen[21]["transmitted"] is False
    _, default = await call(http, "GET", "/api/v2/companies/cmp_amsterdam_hc/imports")
    # The documented default page size is 30: all 22 fit on one page.
    assert (len(default["imports"]), default["page"]["total_pages"]) == (22, 1)


async def test_import_lists_its_invoices(http: aiohttp.ClientSession) -> None:
    _, listing = await call(http, "GET", "/api/v2/companies/cmp_utrecht_rc/imports")
    import_id = listing["imports"][3]["import_id"]
    status, imp = await call(http, "GET", f"/api/v2/imports/{import_id}")
    assert status == 200
    assert imp["transmitted"] is True
    assert ISO_OFFSET.match(imp["transmitted_at"])
    assert imp["invoice_ids"]
    assert all(re.fullmatch(r"[0-9a-f]{40}", i) for i in imp["invoice_ids"])
    assert await call(http, "GET", "/api/v2/imports/nope") == (404, {"errors": "invalid_import_id"})


async def test_invoice_shape_dates_and_cents(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    seeded = first(sandbox, "chargeback")
    status, inv = await call(http, "GET", f"/api/v2/invoices/{seeded['invoice_id']}")
    assert status == 200
    assert inv == seeded
    assert all(SNAKE.match(k) for k in inv)
    assert {"email", "phone", "address", "name"} <= set(inv["customer"])
    assert ISO_OFFSET.match(inv["created_at"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", inv["due_date"])
    types = [ln["type"] for ln in inv["invoice_lines"]]
    assert {"PAYMENT-LINE", "CHARGEBACK-LINE", "CHARGEBACK-FEE-LINE"} <= set(types)
    for line in inv["invoice_lines"]:
        assert type(line["amount_cents"]) is int
        assert ISO_OFFSET.match(line["date"])
    assert inv["amount_open_cents"] == sum(ln["amount_cents"] for ln in inv["invoice_lines"])
    status, lines = await call(http, "GET", f"/api/v2/invoices/{seeded['invoice_id']}/lines")
    assert (status, lines["invoice_lines"]) == (200, inv["invoice_lines"])
    assert await call(http, "GET", "/api/v2/invoices/nope") == (
        404,
        {"error": "invalid_invoice_id"},
    )


def test_volume_and_variety(sandbox: RunningSandbox) -> None:
    data = state(sandbox)
    invoices = list(data.invoices.values())
    assert len(data.companies) == 2
    assert len(invoices) >= 500
    assert sum(len(i["invoice_lines"]) for i in invoices) >= 1500
    customers = {(data.imports[i["import_id"]]["company_id"], customer_key(i)) for i in invoices}
    assert len(customers) >= 65
    assert {k[:2] for _, k in customers} >= {"h-", "AH", "UR"}
    statuses = Counter(i["status"] for i in invoices)
    assert set(statuses) == {
        "draft",
        "transmitted",
        "payment_in_progress",
        "partially_paid",
        "paid",
        "chargeback",
        "retracted",
        "credited",
        "refunded",
    }
    assert any(i["amount_total_cents"] == 0 for i in invoices)
    assert any(i["amount_total_cents"] < 0 for i in invoices)
    assert any(ln.get("subtype") == "surcharge" for i in invoices for ln in i["invoice_lines"])
    assert {c["currency"] for c in data.companies.values()} == {"EUR"}


def test_same_seed_same_data() -> None:
    assert build_state(7).invoices == build_state(7).invoices
    assert build_state(7).invoices != build_state(8).invoices


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"import_id": "nope"}, "invalid_import_id"),
        ({"external_invoice_number": ""}, "invalid_external_invoice_number"),
        (
            {"customer": {"name": {"last_name": " "}, "email": {"email_address": "a@b.nl"}}},
            "invalid_customer_last_name",
        ),
        (
            {"customer": {"name": {"last_name": "X"}, "email": {"email_address": "not-an-email"}}},
            "invalid_customer_email",
        ),
        (
            {"customer": {"name": {"last_name": "X"}, "email": {"email_address": ""}}},
            "invalid_customer_email",
        ),
        (
            {"customer": {"name": {"last_name": "X"}, "phone": {"phone_number": ""}}},
            "invalid_customer_phone",
        ),
        (
            {"customer": {"name": {"last_name": "X"}, "address": {"city": "Utrecht"}}},
            "invalid_customer_address",
        ),
        ({"customer": {"name": {"last_name": "X"}}}, "invalid_customer_address"),
        ({"amount_total_cents": 4531}, "invalid_amount_total_cents"),
        ({"invoice_lines": []}, "invalid_invoice_lines"),
    ],
)
async def test_create_validation_codes(
    http: aiohttp.ClientSession, changes: dict[str, Any], code: str
) -> None:
    import_id = await new_import(http)
    status, body = await call(
        http, "POST", "/api/v2/invoices", json=invoice_body(import_id, **changes)
    )
    assert (status, body) == (422, {"error": code})


async def test_create_requires_json(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "POST", "/api/v2/invoices", data="import_id=x")
    assert (status, body) == (422, {"error": "invalid_content_type"})


async def test_create_then_read_then_delete(http: aiohttp.ClientSession) -> None:
    import_id = await new_import(http)
    body = invoice_body(import_id)
    body["invoice_lines"][0]["invoice_line_id"] = "custom-line-1"
    status, created = await call(http, "POST", "/api/v2/invoices", json=body)
    assert status == 200
    assert created["status"] == "draft"
    assert created["amount_total_cents"] == 4530
    assert [ln["type"] for ln in created["invoice_lines"]] == ["INVOICE-LINE"] * 3
    assert created["invoice_lines"][0]["invoice_line_id"] == "custom-line-1"
    invoice_id = created["invoice_id"]
    assert (await call(http, "GET", f"/api/v2/invoices/{invoice_id}"))[1] == created
    _, imp = await call(http, "GET", f"/api/v2/imports/{import_id}")
    assert imp["invoice_ids"] == [invoice_id]
    dup = await call(http, "POST", "/api/v2/invoices", json=body)
    assert dup == (422, {"error": "duplicate_invoice_line_id"})
    assert (await call(http, "DELETE", f"/api/v2/invoices/{invoice_id}"))[0] == 204
    assert (await call(http, "GET", f"/api/v2/invoices/{invoice_id}"))[0] == 404


async def test_transmit_opens_drafts_and_locks_them(http: aiohttp.ClientSession) -> None:
    import_id = await new_import(http)
    _, created = await call(http, "POST", "/api/v2/invoices", json=invoice_body(import_id))
    status, imp = await call(http, "PUT", f"/api/v2/imports/{import_id}/transmit")
    assert (status, imp["transmitted"]) == (200, True)
    _, inv = await call(http, "GET", f"/api/v2/invoices/{created['invoice_id']}")
    assert inv["status"] == "transmitted"
    assert inv["transmitted_at"] == imp["transmitted_at"]
    assert await call(http, "DELETE", f"/api/v2/invoices/{created['invoice_id']}") == (
        422,
        {"error": "invoice_already_transmitted"},
    )
    assert await call(
        http, "POST", "/api/v2/invoices", json=invoice_body(import_id, external_invoice_number="2")
    ) == (422, {"error": "import_already_transmitted"})


async def test_update_changes_recipient_only(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    invoice_id = first(sandbox, "transmitted")["invoice_id"]
    path = f"/api/v2/invoices/{invoice_id}"
    status, updated = await call(
        http,
        "PUT",
        path,
        json={"customer": {"email": {"email_address": "new@example.org"}}, "locale": "en"},
    )
    assert status == 200
    assert updated["customer"]["email"] == {"email_address": "new@example.org"}
    assert updated["customer"]["name"]["last_name"]
    assert (await call(http, "GET", path))[1]["locale"] == "en"
    assert await call(http, "PUT", path, json={"invoice_lines": []}) == (
        422,
        {"error": "invoice_lines_not_updatable"},
    )
    assert await call(http, "PUT", path, json={"customer": {"name": {"last_name": ""}}}) == (
        422,
        {"error": "invalid_customer_last_name"},
    )
    assert await call(http, "PUT", path, json={"external_invoice_number": ""}) == (
        422,
        {"error": "invalid_external_invoice_number"},
    )
    assert await call(http, "PUT", "/api/v2/invoices/nope", json={}) == (
        404,
        {"error": "invalid_invoice_id"},
    )


async def test_credit_and_retract(sandbox: RunningSandbox, http: aiohttp.ClientSession) -> None:
    invoice = first(sandbox, "partially_paid")
    path = f"/api/v2/invoices/{invoice['invoice_id']}/credit_and_retract"
    assert await call(http, "POST", path, json={}) == (422, {"error": "invalid_description"})
    status, body = await call(http, "POST", path, json={"description": "Lid opgezegd"})
    assert status == 200
    assert body["status"] == "retracted"
    assert body["retraction_reason"] == "Lid opgezegd"
    assert body["amount_open_cents"] == 0
    assert body["invoice_lines"][-1]["type"] == "CREDIT-LINE"
    assert await call(http, "POST", path, json={"description": "again"}) == (
        422,
        {"error": "already_retracted"},
    )
    busy = first(sandbox, "payment_in_progress")["invoice_id"]
    # Also reachable as the documentation spells it.
    colon = f"/api/v2/invoices/{busy}/credit:and:retract"
    assert await call(http, "POST", colon, json={"description": "x"}) == (
        422,
        {"error": "payment_in_progress"},
    )


async def test_request_log(http: aiohttp.ClientSession) -> None:
    assert (await call(http, "DELETE", "/__sandbox/requests"))[0] == 204
    await call(http, "GET", "/api/v2/companies/cmp_utrecht_rc")
    await call(http, "GET", "/api/v2/invoices/nope")
    _, log = await call(http, "GET", "/__sandbox/requests")
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("GET", "/api/v2/companies/cmp_utrecht_rc", 200),
        ("GET", "/api/v2/invoices/nope", 404),
    ]
