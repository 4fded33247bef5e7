"""The OpenAPI 3.0.3 document of the ClubCollect API v2 sandbox (``GET /openapi.json``)."""

from __future__ import annotations

from aiohttp import web

from ..openapi import (
    Api,
    Schema,
    array,
    body_obj,
    boolean,
    install,
    integer,
    json_body,
    maybe,
    obj,
    path_param,
    query,
    response,
    string,
)
from .ledger import STATUSES

P = "/api/v2"
CENTS = integer(description="Integer cents")
DATETIME = string("date-time", description="ISO 8601 with the Amsterdam offset")
LINE_TYPES = (
    "INVOICE-LINE, CREDIT-LINE, PAYMENT-LINE, CHARGEBACK-LINE, CHARGEBACK-FEE-LINE, "
    "CHARGEBACK-FEE-PAYMENT-LINE, LATE-PAYMENT-FEE-LINE, LATE-PAYMENT-FEE-PAYMENT-LINE, "
    "INSTALLMENT-FEE-LINE, INSTALLMENT-FEE-PAYMENT-LINE"
)


def _schemas(api: Api) -> dict[str, Schema]:
    s: dict[str, Schema] = {}
    s["Error"] = api.schema(
        "Error",
        {
            "type": "object",
            "description": (
                'An error code: {"error": "<code>"}, or {"errors": "<code>"} on some GETs.'
            ),
            "properties": {"error": string(), "errors": string()},
            "minProperties": 1,
        },
    )
    s["Page"] = api.schema(
        "Page", obj({"page_number": integer("int32"), "total_pages": integer("int32")})
    )
    s["Company"] = api.schema(
        "Company",
        obj(
            {
                "company_id": string(),
                "name": string(),
                "brand": string(),
                "email": string(nullable=True),
                "locale": string(),
                "address1": string(nullable=True),
                "address2": string(nullable=True),
                "house_number": string(nullable=True),
                "zipcode": string(nullable=True),
                "city": string(nullable=True),
                "country_code": string(nullable=True),
                "currency": string(example="EUR"),
            }
        ),
    )
    summary: dict[str, Schema] = {
        "company_id": string(),
        "import_id": string(),
        "title": string(nullable=True),
        "transmitted": boolean(),
        "transmitted_at": string("date-time", nullable=True),
    }
    s["ImportSummary"] = api.schema("ImportSummary", obj(summary))
    s["Import"] = api.schema(
        "Import",
        obj(
            {
                **summary,
                "prepaid_amount_cents": CENTS,
                "prepaid_amount_currency": string(),
                "settled_amount_cents": CENTS,
                "settled_amount_currency": string(),
                "expected_invoices_count": integer("int32"),
                "invoice_ids": array(string()),
            }
        ),
    )
    name = {
        "prefix": string(nullable=True),
        "first_name": string(nullable=True),
        "infix": string(nullable=True),
        "last_name": string(nullable=True),
        "organization": string(nullable=True),
    }
    address = {
        "address1": string(nullable=True),
        "address2": string(nullable=True),
        "locality": string(nullable=True),
        "house_number": string(nullable=True),
        "state": string(nullable=True),
        "zipcode": string(nullable=True),
        "city": string(nullable=True),
        "country_code": string(nullable=True),
    }
    email = {"email_address": string()}
    phone = {"phone_number": string(), "country_code": string(nullable=True)}
    s["Customer"] = api.schema(
        "Customer",
        obj(
            {
                "name": obj(name),
                "address": obj(address, nullable=True),
                "email": obj(email, nullable=True),
                "phone": obj(phone, nullable=True),
            }
        ),
    )
    s["CustomerInput"] = api.schema(
        "CustomerInput",
        body_obj(
            {
                "name": body_obj(name, required=("last_name",)),
                "address": maybe(body_obj(address)),
                "email": maybe(body_obj(email, required=("email_address",))),
                "phone": maybe(body_obj(phone, required=("phone_number",))),
            }
        ),
    )
    s["InvoiceLine"] = api.schema(
        "InvoiceLine",
        obj(
            {
                "invoice_line_id": string(),
                "type": string(description=LINE_TYPES),
                "subtype": string(example="donation"),
                "amount_cents": CENTS,
                "description": string(nullable=True),
                "date": DATETIME,
                "payment_method": string(example="ideal"),
            },
            optional=("subtype", "payment_method"),
        ),
    )
    recipient: dict[str, Schema] = {
        "external_invoice_number": string(),
        "direct_debit_iban": string(nullable=True),
        "federation_membership_number": string(nullable=True),
        "club_membership_number": string(nullable=True),
        "member_external_id": string(nullable=True),
        "external_membership_number": string(nullable=True),
        "locale": string(nullable=True, example="nl"),
    }
    s["Invoice"] = api.schema(
        "Invoice",
        obj(
            {
                "invoice_id": string(),
                "import_id": string(),
                "reference": string(nullable=True),
                "invoice_number": string(nullable=True),
                **recipient,
                "customer": s["Customer"],
                "invoice_lines": array(s["InvoiceLine"]),
                "amount_total_cents": CENTS,
                "messages": array(
                    obj(
                        {
                            "message_id": string(),
                            "type": string(example="EMAIL"),
                            "description": string(nullable=True),
                            "date": DATETIME,
                        }
                    )
                ),
                "tickets": array(
                    obj(
                        {
                            "ticket_id": string(),
                            "message": string(),
                            "sender": string(example="CUSTOMER"),
                            "date": DATETIME,
                        }
                    )
                ),
                "retracted_at": string("date-time", nullable=True),
                "retraction_reason": string(nullable=True),
                "show_retraction_reason_to_customer": boolean(),
                "status": string(enum=STATUSES),
                "created_at": DATETIME,
                "transmitted_at": string("date-time", nullable=True),
                "due_date": string("date", nullable=True),
                "amount_paid_cents": CENTS,
                "amount_open_cents": CENTS,
            }
        ),
    )
    s["InvoiceLines"] = api.schema(
        "InvoiceLines",
        obj(
            {
                "import_id": string(),
                "invoice_id": string(),
                "invoice_lines": array(s["InvoiceLine"]),
                "amount_total_cents": CENTS,
            }
        ),
    )
    s["NewInvoice"] = api.schema(
        "NewInvoice",
        body_obj(
            {
                "import_id": string(),
                **recipient,
                "customer": s["CustomerInput"],
                "invoice_lines": array(
                    body_obj(
                        {
                            "invoice_line_id": string(),
                            "amount_cents": CENTS,
                            "description": string(min_length=1),
                            "date": DATETIME,
                        },
                        required=("amount_cents", "description"),
                    )
                ),
                "amount_total_cents": integer(description="The sum of the lines' amount_cents"),
                "due_date": string("date"),
            },
            required=(
                "import_id",
                "external_invoice_number",
                "customer",
                "invoice_lines",
                "amount_total_cents",
            ),
        ),
    )
    s["InvoiceUpdate"] = api.schema(
        "InvoiceUpdate",
        body_obj({**recipient, "customer": s["CustomerInput"]}),
    )
    return s


def build() -> Api:
    """The ClubCollect sandbox's API."""
    api = Api(
        title="ClubCollect API v2 (clubgraph sandbox)",
        description=(
            "snake_case JSON, ISO 8601 dates, amounts in integer cents, error codes as "
            'snake_case strings ({"error": "<code>"}). Invoices are reached by id (no list '
            "endpoint); they are created as drafts in an import and sent when it is "
            "transmitted. Authenticate with the partner key: Authorization: ApiKey <key>."
        ),
    )
    api.security_schemes["apiKeyHeader"] = {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "The partner API key as `ApiKey <api_key>`.",
    }
    api.security_schemes["apiKeyQuery"] = {
        "type": "apiKey",
        "in": "query",
        "name": "api_key",
        "description": "Deprecated: the partner API key as a query parameter.",
    }
    api.security = [{"apiKeyHeader": []}, {"apiKeyQuery": []}]
    for tag, text in (
        ("companies", "Companies (clubs) the partner key reaches"),
        ("imports", "Imports: batches of invoices sent together"),
        ("invoices", "Invoices, their lines, credit and retract"),
    ):
        api.tag(tag, text)
    s = _schemas(api)

    def error(text: str) -> Schema:
        return response(text, s["Error"])

    api.common_responses["401"] = error('Unknown partner key: {"error": "unauthorized"}')
    missing = error("Unknown id")
    refused = error("Refused with an error code")
    unreadable = error('Unreadable body: {"error": "invalid_json"}')
    paging = [
        query("page_number", integer("int32", minimum=1, default=1), "1-based page number"),
        query("page_size", integer("int32", minimum=1, maximum=100, default=30), "Rows a page"),
    ]
    company_id = path_param("id", string(), "Company id")
    import_id = path_param("id", string(), "Import id")
    invoice_id = path_param("id", string(), "Invoice id")
    the_import = response("The import", s["Import"])
    invoice = response("The invoice", s["Invoice"])

    api.operation(
        "get",
        f"{P}/companies",
        "listCompanies",
        "The companies the partner key reaches",
        tag="companies",
        params=paging,
        responses={
            200: response(
                "A page of companies",
                obj({"companies": array(s["Company"]), "page": s["Page"]}),
            ),
            400: error("Paging parameters are not integers"),
        },
    )
    api.operation(
        "get",
        f"{P}/companies/{{id}}",
        "getCompany",
        "Get a company",
        tag="companies",
        params=[company_id],
        responses={200: response("The company", s["Company"]), 404: missing},
    )
    api.operation(
        "get",
        f"{P}/companies/{{id}}/imports",
        "listCompanyImports",
        "A company's imports, oldest first",
        tag="imports",
        params=[company_id, *paging],
        responses={
            200: response(
                "A page of imports",
                obj({"imports": array(s["ImportSummary"]), "page": s["Page"]}),
            ),
            400: error("Paging parameters are not integers"),
            404: missing,
        },
    )
    api.operation(
        "post",
        f"{P}/imports",
        "createImport",
        "Create an empty import",
        tag="imports",
        body=json_body(
            body_obj(
                {
                    "company_id": string(),
                    "title": string(),
                    "expected_invoices_count": integer("int32"),
                },
                required=("company_id",),
            )
        ),
        responses={200: the_import, 400: unreadable, 422: refused},
    )
    api.operation(
        "get",
        f"{P}/imports/{{id}}",
        "getImport",
        "Get an import",
        tag="imports",
        params=[import_id],
        responses={200: the_import, 404: missing},
    )
    api.operation(
        "put",
        f"{P}/imports/{{id}}",
        "updateImport",
        "Change an import before transmission",
        tag="imports",
        params=[import_id],
        body=json_body(body_obj({"expected_invoices_count": integer("int32")})),
        responses={200: the_import, 400: unreadable, 404: missing, 422: refused},
    )
    api.operation(
        "delete",
        f"{P}/imports/{{id}}",
        "deleteImport",
        "Delete an import (and its invoices) before transmission",
        tag="imports",
        params=[import_id],
        responses={204: response("Deleted"), 404: missing, 422: refused},
    )
    api.operation(
        "put",
        f"{P}/imports/{{id}}/transmit",
        "transmitImport",
        "Transmit an import: its invoices are sent",
        tag="imports",
        params=[import_id],
        responses={200: the_import, 404: missing, 422: refused},
    )
    api.operation(
        "post",
        f"{P}/invoices",
        "createInvoice",
        "Create a draft invoice in an import not yet transmitted",
        tag="invoices",
        body=json_body(s["NewInvoice"]),
        responses={200: invoice, 400: unreadable, 422: refused},
    )
    api.operation(
        "get",
        f"{P}/invoices/{{id}}",
        "getInvoice",
        "Get an invoice",
        tag="invoices",
        params=[invoice_id],
        responses={200: invoice, 404: missing},
    )
    api.operation(
        "put",
        f"{P}/invoices/{{id}}",
        "updateInvoice",
        "Change an invoice's recipient attributes (lines never change)",
        tag="invoices",
        params=[invoice_id],
        body=json_body(s["InvoiceUpdate"]),
        responses={200: invoice, 400: unreadable, 404: missing, 422: refused},
    )
    api.operation(
        "delete",
        f"{P}/invoices/{{id}}",
        "deleteInvoice",
        "Delete an invoice before transmission",
        tag="invoices",
        params=[invoice_id],
        responses={204: response("Deleted"), 404: missing, 422: refused},
    )
    api.operation(
        "get",
        f"{P}/invoices/{{id}}/lines",
        "getInvoiceLines",
        "An invoice's lines",
        tag="invoices",
        params=[invoice_id],
        responses={200: response("The lines", s["InvoiceLines"]), 404: missing},
    )
    retract = json_body(
        body_obj(
            {
                "description": string(min_length=1),
                "external_invoice_number": string(),
                "show_retraction_reason_to_customer": boolean(),
            },
            required=("description",),
        )
    )
    for path, op_id, deprecated in (
        ("credit_and_retract", "creditAndRetractInvoice", False),
        ("credit:and:retract", "creditAndRetractInvoiceColonPath", True),
    ):
        api.operation(
            "post",
            f"{P}/invoices/{{id}}/{path}",
            op_id,
            "Credit what is open and retract the invoice",
            tag="invoices",
            params=[invoice_id],
            body=retract,
            responses={200: invoice, 400: unreadable, 404: missing, 422: refused},
            description=(
                "The same operation under the spelling some copies of the documentation show."
                if deprecated
                else None
            ),
        )
        if deprecated:
            api.paths[f"{P}/invoices/{{id}}/{path}"]["post"]["deprecated"] = True
    return api


def install_openapi(app: web.Application) -> None:
    """Serve this document at ``GET /openapi.json``."""
    install(app, build)
