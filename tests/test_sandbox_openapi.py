"""Every sandbox server serves a valid OpenAPI 3.0.3 document of the API it really serves.

The document is checked three ways: a real validator accepts it; its operations and the
server's aiohttp routes are the same set (method and path template); and real responses
of the sandbox, successes and errors, validate against the schemas it documents.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import jsonschema
import pytest
from openapi_spec_validator import validate

from clubgraph.connectors.clubcollect.credentials import DEV_CREDENTIALS as CLUBCOLLECT
from clubgraph.connectors.fitnessforce.credentials import DEV_CREDENTIALS as FITNESSFORCE
from clubgraph.connectors.tight.credentials import DEV_CREDENTIALS as TIGHT
from clubgraph.connectors.timetap.credentials import DEV_CREDENTIALS as TIMETAP
from clubgraph.sandbox.runner import SOURCES, RunningSandbox, start_sandbox

CAMEL_CASE = re.compile(r"^[a-z][a-zA-Z0-9]*$")


@dataclass
class Served:
    """One source's running server, its document and an authenticated session."""

    url: str
    doc: dict[str, Any]
    http: aiohttp.ClientSession
    headers: dict[str, str]


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=SOURCES)
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _document(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    # No credentials: the document is public.
    async with http.get(url + "/openapi.json") as resp:
        assert resp.status == 200, await resp.text()
        assert resp.content_type == "application/json"
        doc: dict[str, Any] = await resp.json()
    return doc


async def _credentials(http: aiohttp.ClientSession, source: str, url: str) -> dict[str, str]:
    """Authorization headers for ``source``, obtained through its token endpoint."""
    if source == "clubcollect":
        return {"Authorization": f"ApiKey {CLUBCOLLECT.api_key}"}
    if source == "fitnessforce":
        login = {"username": FITNESSFORCE.username, "password": FITNESSFORCE.password}
        async with http.post(url + "/authentication/token", json=login) as resp:
            token = (await resp.json())["access_token"]
    elif source == "timetap":
        key = TIMETAP.keys[0]
        signature = hashlib.md5((key.api_key + key.private_key).encode()).hexdigest()
        params = {"apiKey": key.api_key, "timestamp": str(int(time.time())), "signature": signature}
        async with http.get(url + "/sessionToken", params=params) as resp:
            token = (await resp.json())["sessionToken"]
    else:
        form = {
            "client_id": TIGHT.client_id,
            "client_secret": TIGHT.client_secret,
            "grant_type": "client_credentials",
        }
        async with http.post(url + "/v5/auth/token", data=form) as resp:
            token = (await resp.json())["access_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module", params=SOURCES)
async def served(
    request: pytest.FixtureRequest, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> Served:
    source: str = request.param
    url = sandbox.urls[source]
    return Served(url, await _document(http, url), http, await _credentials(http, source, url))


# --- OpenAPI schema -> JSON Schema ------------------------------------------------------


def _json_schema(schema: Any, components: dict[str, Any]) -> Any:
    """``schema`` as JSON Schema: ``$ref`` inlined, ``nullable`` turned into a null type."""
    if isinstance(schema, list):
        return [_json_schema(s, components) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        return _json_schema(components[name], components)
    out = {k: _json_schema(v, components) for k, v in schema.items() if k != "nullable"}
    if "properties" in schema:
        out["properties"] = {
            k: _json_schema(v, components) for k, v in schema["properties"].items()
        }
    if schema.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield method.upper(), path, op


def _operation(doc: dict[str, Any], operation_id: str) -> tuple[str, str, dict[str, Any]]:
    found = [(m, p, op) for m, p, op in _operations(doc) if op["operationId"] == operation_id]
    assert len(found) == 1, operation_id
    return found[0]


_VALIDATORS: dict[tuple[str, str, str], Any] = {}


def _validator(doc: dict[str, Any], op: dict[str, Any], status: int) -> Any:
    """A JSON Schema validator of ``op``'s documented answer with ``status`` (kept)."""
    key = (doc["servers"][0]["url"], op["operationId"], str(status))
    if key not in _VALIDATORS:
        answer = op["responses"].get(str(status))
        assert answer is not None, f"{op['operationId']}: status {status} is not documented"
        (media,) = answer["content"].values()
        schema = _json_schema(media["schema"], doc["components"]["schemas"])
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        _VALIDATORS[key] = cls(schema, format_checker=jsonschema.FormatChecker())
    return _VALIDATORS[key]


def _check(doc: dict[str, Any], op: dict[str, Any], status: int, body: Any) -> None:
    _validator(doc, op, status).validate(body)


async def _call(
    served: Served,
    operation_id: str,
    path_params: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
    *,
    authenticated: bool = True,
    status: int = 200,
) -> Any:
    """Call a documented GET operation and validate the answer against its schema."""
    method, template, op = _operation(served.doc, operation_id)
    assert method == "GET"
    path = template.format(**(path_params or {}))
    headers = served.headers if authenticated else {}
    async with served.http.get(served.url + path, params=params, headers=headers) as resp:
        assert resp.status == status, await resp.text()
        body = await resp.json(content_type=None)
    _check(served.doc, op, status, body)
    return body


# --- the document itself ----------------------------------------------------------------


async def test_document_is_valid_openapi_3_0_3(served: Served, sandbox: RunningSandbox) -> None:
    doc = served.doc
    validate(doc)
    assert doc["openapi"] == "3.0.3"
    assert doc["servers"] == [{"url": served.url}]
    ids = [op["operationId"] for _, _, op in _operations(doc)]
    assert len(ids) == len(set(ids))
    assert all(CAMEL_CASE.match(i) for i in ids), ids
    assert doc["components"]["securitySchemes"]
    for _, _, op in _operations(doc):
        for status, answer in op["responses"].items():
            if status.startswith(("4", "5")):
                assert "content" in answer, (op["operationId"], status)


async def test_the_document_is_not_an_upstream_request(served: Served) -> None:
    async with served.http.delete(served.url + "/__sandbox/requests"):
        pass
    await _document(served.http, served.url)
    async with served.http.get(served.url + "/__sandbox/requests") as resp:
        assert await resp.json() == []


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


async def test_every_route_has_an_operation_and_back(
    served: Served, sandbox: RunningSandbox
) -> None:
    source = next(s for s, u in sandbox.urls.items() if u == served.url)
    routes = {
        (route.method, _template(route.resource.canonical))
        for route in sandbox.apps[source].router.routes()
        if route.resource is not None
        and route.method != "HEAD"
        and not route.resource.canonical.startswith("/__sandbox/")
        and route.resource.canonical != "/openapi.json"
    }
    documented = {(method, _template(path)) for method, path, _ in _operations(served.doc)}
    assert routes == documented
    # Every path parameter is declared, required, by the name the template uses.
    for _, path, op in _operations(served.doc):
        declared = {p["name"] for p in op.get("parameters", ()) if p["in"] == "path"}
        assert declared == set(re.findall(r"\{([^}]+)\}", path)), op["operationId"]


# --- real responses against the documented schemas --------------------------------------


async def _fitnessforce(served: Served) -> None:
    tenants = await _call(served, "listTenants", params={"page_size": "200"})
    tenant = tenants["data"][0]["tenant_id"]
    await _call(served, "getTenant", {"tenant_id": tenant})
    clients = await _call(served, "listTenantClients", {"tenant_id": tenant}, {"page_size": "200"})
    await _call(served, "searchClients", params={"search_text": "a", "page_size": "200"})
    invoices = await _call(
        served, "listTenantInvoices", {"tenant_id": tenant}, {"page_size": "200"}
    )
    for row in invoices["data"][:20]:
        ids = {"tenant_id": tenant, "client_id": row["client_id"], "invoice_id": row["invoice_id"]}
        await _call(served, "getInvoice", ids)
    client = clients["data"][0]["client_id"]
    await _call(served, "getClient", {"tenant_id": tenant, "client_id": client})
    subs = await _call(
        served, "listTenantSubscriptions", {"tenant_id": tenant}, {"page_size": "200"}
    )
    with_freezes = next(s for s in subs["data"] if s["freezes"])
    ids = {
        "tenant_id": tenant,
        "client_id": with_freezes["client_id"],
        "subscription_id": with_freezes["subscription_id"],
    }
    await _call(served, "getSubscription", ids)
    await _call(served, "listSubscriptionFreezes", ids)
    await _call(served, "listSubscriptionPlans", {"tenant_id": tenant})
    await _call(served, "getTenant", {"tenant_id": 999}, status=404)
    await _call(served, "listTenants", authenticated=False, status=401)
    await _call(served, "listTenants", params={"page_size": "0"}, status=400)


async def _timetap(served: Served) -> None:
    await _call(served, "getBusiness")
    clients = await _call(served, "listClients")
    await _call(served, "getClient", {"clientId": clients[0]["clientId"]})
    await _call(served, "clientReport", params={"searchString": "a", "pageSize": "50"})
    for status in ("OPEN", "CLOSED", "VOID"):
        params = {"pageSize": "200", "order_field": "invoiceDate", "order_mode": "desc"}
        rows = await _call(served, "listInvoicesByStatus", {"statusString": status}, params)
    invoice = rows[0]
    await _call(served, "getInvoice", {"invoiceId": invoice["invoiceId"]})
    await _call(served, "listClientInvoices", {"clientId": invoice["client"]["clientId"]})
    items = await _call(served, "invoiceItemReport", params={"pageSize": "500"})
    with_product = next(i for i in items["invoiceItemList"] if i["productId"] is not None)
    await _call(served, "listItemsByProduct", {"productId": with_product["productId"]})
    await _call(served, "listUninvoicedItems", {"clientId": with_product["clientId"]})
    await _call(served, "getInvoice", {"invoiceId": 1}, status=404)
    await _call(served, "listInvoicesByStatus", {"statusString": "NOPE"}, status=400)
    await _call(served, "getBusiness", authenticated=False, status=401)


async def _clubcollect(served: Served) -> None:
    companies = await _call(served, "listCompanies")
    for company in companies["companies"]:
        await _call(served, "getCompany", {"id": company["company_id"]})
        imports = await _call(
            served, "listCompanyImports", {"id": company["company_id"]}, {"page_size": "100"}
        )
        for summary in imports["imports"][-3:]:
            found = await _call(served, "getImport", {"id": summary["import_id"]})
            for invoice_id in found["invoice_ids"][:15]:
                await _call(served, "getInvoice", {"id": invoice_id})
                await _call(served, "getInvoiceLines", {"id": invoice_id})
    await _call(served, "getCompany", {"id": "cmp_unknown"}, status=404)
    await _call(served, "getInvoice", {"id": "unknown"}, status=404)
    await _call(served, "listCompanies", authenticated=False, status=401)


async def _tight(served: Served) -> None:
    await _call(served, "listBusinesses")
    clients = await _call(served, "listClients", params={"pageSize": "500"})
    await _call(served, "getClient", {"id": clients["data"][0]["id"]})
    invoices = await _call(served, "listInvoices", params={"pageSize": "500"})
    for status in ("DRAFT", "REFUNDED", "SCHEDULED", "CANCELLED"):
        rows = await _call(served, "listInvoices", params={"status": status, "pageSize": "5"})
        for row in rows["data"]:
            await _call(served, "getInvoice", {"id": row["id"]})
    await _call(served, "getInvoice", {"id": invoices["data"][0]["id"]})
    await _call(served, "getInvoice", {"id": 1}, status=404)
    await _call(served, "listInvoices", params={"pageSize": "0"}, status=400)
    await _call(served, "listInvoices", authenticated=False, status=401)


async def test_the_schema_check_rejects_what_the_document_does_not_allow(
    sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    url = sandbox.urls["fitnessforce"]
    doc = await _document(http, url)
    _, _, op = _operation(doc, "getInvoice")
    served = Served(url, doc, http, await _credentials(http, "fitnessforce", url))
    page = await _call(served, "listTenants")
    tenant = page["data"][0]["tenant_id"]
    rows = await _call(served, "listTenantInvoices", {"tenant_id": tenant}, {"page_size": "1"})
    invoice = rows["data"][0]
    _check(doc, op, 200, invoice)
    wrong = [
        {**invoice, "net_amount": "12.50"},  # a string where a number is documented
        {**invoice, "status": "Settled"},  # not one of the statuses
        {**invoice, "due_date": "31/01/2026"},  # not a date
        {k: v for k, v in invoice.items() if k != "invoice_number"},  # a required field gone
        {**invoice, "invoice_details": [{**invoice["invoice_details"][0], "quantity": None}]},
    ]
    for body in wrong:
        with pytest.raises(jsonschema.ValidationError):
            _check(doc, op, 200, body)


async def test_real_responses_match_the_documented_schemas(
    served: Served, sandbox: RunningSandbox
) -> None:
    source = next(s for s, u in sandbox.urls.items() if u == served.url)
    checks = {
        "fitnessforce": _fitnessforce,
        "timetap": _timetap,
        "clubcollect": _clubcollect,
        "tight": _tight,
    }
    await checks[source](served)
