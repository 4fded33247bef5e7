"""ClubCollect's HTTP surface: API-key auth, error codes, and one method per endpoint."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from ...errors import SourceErrorDetail
from ...http import UpstreamHTTP
from ...resilience import CallPolicy
from .credentials import ClubCollectCredentials
from .types import CompanyJSON, CompanyListJSON, ImportJSON, ImportListJSON, InvoiceJSON

PREFIX = "/api/v2"

# The messages ClubCollect documents for its error codes (the body carries only the code).
MESSAGES: Mapping[str, str] = {
    "invalid_import_id": "No import with this ID could be found.",
    "invalid_invoice_id": "No invoice with this ID could be found.",
    "invalid_company_id": "No company with this ID could be found.",
    "invalid_external_invoice_number": "External invoice number: min. 1 character.",
    "invalid_customer_last_name": "Last name may not be empty.",
    "invalid_customer_email": "Email address may not be empty if no phone number is provided.",
    "invalid_customer_phone": "Phone number may not be empty if no email address is provided.",
    "invalid_customer_address": (
        "Address may not be empty if neither an email address nor phone number is provided."
    ),
    "invalid_amount_total_cents": (
        "amount_total_cents is not equal to the total of all invoice line amounts."
    ),
    "duplicate_invoice_line_id": "The invoice_line_id was already used for another line.",
    "invalid_content_type": "Content-Type: application/json must be provided.",
    "invalid_description": "description must be provided.",
    "already_retracted": "The invoice with this ID has already been retracted.",
    "payment_in_progress": "An invoice can't be credited or retracted during a payment.",
    "import_already_transmitted": "The import has already been transmitted.",
    "invoice_already_transmitted": "A transmitted invoice cannot be deleted.",
    "invoice_lines_not_updatable": "Invoice lines cannot be changed after creation.",
    "invalid_invoice_lines": "Every invoice line needs a description and an amount in cents.",
    "invalid_json": "The request body is not a JSON object.",
    "not_found": "Not found.",
    "unauthorized": "The API key is missing or not valid.",
}

# Where a code points at a request field, for validation errors shown per field.
FIELDS: Mapping[str, str] = {
    "invalid_import_id": "import_id",
    "invalid_external_invoice_number": "external_invoice_number",
    "invalid_customer_last_name": "customer.name.last_name",
    "invalid_customer_email": "customer.email.email_address",
    "invalid_customer_phone": "customer.phone.phone_number",
    "invalid_customer_address": "customer.address",
    "invalid_amount_total_cents": "amount_total_cents",
    "duplicate_invoice_line_id": "invoice_lines.invoice_line_id",
    "invalid_invoice_lines": "invoice_lines",
    "invalid_description": "description",
}


class ApiKeyAuth:
    """``Authorization: ApiKey <api_key>`` (the ``api_key`` query parameter is deprecated)."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    async def apply(
        self, http: UpstreamHTTP, headers: dict[str, str], params: dict[str, str | int]
    ) -> None:
        headers["Authorization"] = f"ApiKey {self._api_key}"

    def invalidate(self, refused: Mapping[str, str]) -> None:
        # A partner key does not expire: there is nothing to renew.
        return None


def parse_errors(status: int, body: Any) -> Sequence[SourceErrorDetail]:
    """``{"error": "code"}`` / ``{"errors": "code" | [codes]}`` into details."""
    if not isinstance(body, dict):
        return ()
    codes: list[str] = []
    for name in ("error", "errors"):
        value = body.get(name)
        if isinstance(value, str):
            codes.append(value)
        elif isinstance(value, list):
            codes.extend(str(v) for v in value if isinstance(v, str))
        elif isinstance(value, dict) and isinstance(value.get("code"), str):
            codes.append(value["code"])
    return tuple(
        SourceErrorDetail(code, MESSAGES.get(code, code.replace("_", " ")), FIELDS.get(code))
        for code in codes
    )


def new_http(
    base_url: str, credentials: ClubCollectCredentials, policy: CallPolicy | None = None
) -> UpstreamHTTP:
    """The pooled client for one ClubCollect partner account."""
    return UpstreamHTTP(
        "clubcollect",
        base_url,
        auth=ApiKeyAuth(credentials.api_key),
        error_parser=parse_errors,
        policy=policy,
    )


class ClubCollectAPI:
    """Typed calls to ClubCollect API v2 endpoints."""

    def __init__(self, http: UpstreamHTTP) -> None:
        self.http = http

    async def companies_page(self, page: int, size: int) -> CompanyListJSON:
        """One page of the companies the partner key reaches (1-based page)."""
        body = await self.http.request(
            "GET", f"{PREFIX}/companies", params={"page_number": page, "page_size": size}
        )
        return cast(CompanyListJSON, body)

    async def company(self, company_id: str) -> CompanyJSON:
        # Company ids are words (``cmp_amsterdam_hc``): traces are told the route.
        body = await self.http.request(
            "GET", f"{PREFIX}/companies/{company_id}", route=f"{PREFIX}/companies/{{company_id}}"
        )
        return cast(CompanyJSON, body)

    async def imports_page(self, company_id: str, page: int, size: int) -> ImportListJSON:
        """One page of a company's imports, oldest first (1-based page)."""
        body = await self.http.request(
            "GET",
            f"{PREFIX}/companies/{company_id}/imports",
            params={"page_number": page, "page_size": size},
            route=f"{PREFIX}/companies/{{company_id}}/imports",
        )
        return cast(ImportListJSON, body)

    async def import_(self, import_id: str) -> ImportJSON:
        return cast(ImportJSON, await self.http.request("GET", f"{PREFIX}/imports/{import_id}"))

    async def create_import(
        self, company_id: str, title: str | None = None, expected_invoices_count: int | None = None
    ) -> ImportJSON:
        payload: dict[str, Any] = {"company_id": company_id}
        if title is not None:
            payload["title"] = title
        if expected_invoices_count is not None:
            payload["expected_invoices_count"] = expected_invoices_count
        body = await self.http.request("POST", f"{PREFIX}/imports", json=payload)
        return cast(ImportJSON, body)

    async def delete_import(self, import_id: str) -> None:
        """Delete an import with its invoices (only before it is transmitted)."""
        await self.http.request("DELETE", f"{PREFIX}/imports/{import_id}")

    async def transmit_import(self, import_id: str) -> ImportJSON:
        body = await self.http.request("PUT", f"{PREFIX}/imports/{import_id}/transmit", json={})
        return cast(ImportJSON, body)

    async def invoice(self, invoice_id: str) -> InvoiceJSON:
        body = await self.http.request("GET", f"{PREFIX}/invoices/{invoice_id}")
        return cast(InvoiceJSON, body)

    async def create_invoice(self, payload: Mapping[str, Any]) -> InvoiceJSON:
        body = await self.http.request("POST", f"{PREFIX}/invoices", json=dict(payload))
        return cast(InvoiceJSON, body)

    async def update_invoice(self, invoice_id: str, payload: Mapping[str, Any]) -> InvoiceJSON:
        body = await self.http.request("PUT", f"{PREFIX}/invoices/{invoice_id}", json=dict(payload))
        return cast(InvoiceJSON, body)

    async def delete_invoice(self, invoice_id: str) -> None:
        await self.http.request("DELETE", f"{PREFIX}/invoices/{invoice_id}")

    async def credit_and_retract(
        self,
        invoice_id: str,
        description: str,
        *,
        external_invoice_number: str | None = None,
        show_retraction_reason_to_customer: bool | None = None,
    ) -> InvoiceJSON:
        payload: dict[str, Any] = {"description": description}
        if external_invoice_number is not None:
            payload["external_invoice_number"] = external_invoice_number
        if show_retraction_reason_to_customer is not None:
            payload["show_retraction_reason_to_customer"] = show_retraction_reason_to_customer
        body = await self.http.request(
            "POST", f"{PREFIX}/invoices/{invoice_id}/credit_and_retract", json=payload
        )
        return cast(InvoiceJSON, body)
