"""The OpenAPI 3.0.3 document of the Tight sandbox (``GET /openapi.json``)."""

from __future__ import annotations

from aiohttp import web

from ..openapi import (
    Api,
    Schema,
    array,
    body_obj,
    boolean,
    content,
    install,
    integer,
    json_body,
    number,
    obj,
    path_param,
    query,
    response,
    string,
)
from .drafts import API_NAMES, FREQUENCIES, REMINDERS, TERMS
from .invoices import STATUSES
from .listing import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

DOLLARS = number("double", description="Dollars (major units) as a JSON number")
DATE = string("date", description="YYYY-MM-DD")
MAYBE_DATE = string("date", nullable=True, description="YYYY-MM-DD")
EMAIL_STATUSES = ("NOT_SENT", "SENDING", "SUCCESS", "FAILURE_BOUNCED")
REFUND_STATUSES = ("PENDING", "SUCCEEDED", "FAILED", "UNKNOWN")


def _schemas(api: Api) -> dict[str, Schema]:
    s: dict[str, Schema] = {}
    s["OAuthError"] = api.schema(
        "OAuthError",
        obj(
            {"error": string(), "error_description": string()},
            description="Spring OAuth2 style error (authentication failures).",
        ),
    )
    reason = obj({"type": string(), "errorMessage": string()})
    s["Failure"] = api.schema(
        "Failure",
        obj(
            {
                "result": string(enum=("FAILURE",)),
                "message": string(),
                "errors": obj(
                    {
                        "fieldErrors": obj({}, additional=array(reason)),
                        "globalErrors": array(reason),
                    }
                ),
            },
            description="A refused API call (the v4 error shape).",
        ),
    )
    s["Token"] = api.schema(
        "Token",
        obj(
            {
                "access_token": string(),
                "refresh_token": string(),
                "token_type": string(enum=("bearer",)),
                "expires_in": integer("int32", description="Seconds"),
                "created_at": integer(description="Seconds since 1970"),
                "scope": string(),
            }
        ),
    )
    s["Business"] = api.schema(
        "Business",
        obj(
            {
                "id": integer(),
                "name": string(),
                "address1": string(nullable=True),
                "address2": string(nullable=True),
                "city": string(nullable=True),
                "state": string(nullable=True),
                "zip": string(nullable=True),
                "phoneNumber": string(nullable=True),
                "logoUrl": string(nullable=True),
                "invoicePrefix": string(),
                "currency": string(example="USD"),
            }
        ),
    )
    client: dict[str, Schema] = {
        "id": integer(),
        "businessId": integer(),
        "name": string(),
        "firstName": string(nullable=True),
        "lastName": string(nullable=True),
        "email": string(),
        "phone": string(nullable=True),
        "address1": string(nullable=True),
        "city": string(nullable=True),
        "zip": string(nullable=True),
        "country": string(nullable=True),
        "createdDate": string("date-time"),
        "status": string(example="ACTIVE"),
    }
    s["Client"] = api.schema("Client", obj(client))
    custom = obj({}, additional=True, description="Partner data")
    s["LineItem"] = api.schema(
        "LineItem",
        obj(
            {
                "id": integer(),
                "description": string(),
                "quantity": number(),
                "price": DOLLARS,
                "salesTax": number(description="Tax rate in percent"),
                "amount": DOLLARS,
                "expenseId": integer(nullable=True),
                "glAccountId": integer(nullable=True),
                "apiItemId": string(nullable=True),
                "customData": custom,
            }
        ),
    )
    s["Installment"] = api.schema(
        "Installment",
        obj(
            {
                "id": integer(),
                "name": string(),
                "dueDate": DATE,
                "amount": DOLLARS,
                "percentage": number(),
                "status": string(),
                "balance": DOLLARS,
            }
        ),
    )
    s["Payment"] = api.schema(
        "Payment",
        obj(
            {
                "id": integer(),
                "invoiceId": integer(),
                "apiName": string(),
                "apiPaymentId": string(nullable=True),
                "grossPaymentAmount": DOLLARS,
                "feePaymentAmount": DOLLARS,
                "amountApplied": DOLLARS,
                "paymentSource": string(nullable=True),
                "date": DATE,
                "status": string(enum=("PENDING", "PROCESSED", "FAILED")),
            }
        ),
    )
    invoice: dict[str, Schema] = {
        "id": integer(),
        "apiInvoiceId": string(nullable=True),
        "clientId": integer(),
        "date": DATE,
        "name": string(),
        "invoiceNo": integer(nullable=True),
        "invoicePrefix": string(nullable=True),
        "totalAmount": DOLLARS,
        "totalAmountCents": integer(description="Authoritative total in cents"),
        "balance": DOLLARS,
        "discountAmount": number("double", nullable=True),
        "discountPercent": number(nullable=True),
        "term": string(enum=TERMS),
        "dueDate": MAYBE_DATE,
        "personalNote": string(nullable=True),
        "frequency": string(enum=FREQUENCIES),
        "status": string(enum=STATUSES),
        "emailStatus": string(enum=EMAIL_STATUSES),
        "sendEmail": boolean(),
        "sentDate": MAYBE_DATE,
        "lastViewedDate": MAYBE_DATE,
        "reminderSchedule": string(enum=REMINDERS, nullable=True),
        "lastCreatedRecurringInvoice": MAYBE_DATE,
        "parentId": integer(nullable=True),
        "isRecurringParent": boolean(),
        "refundStatus": string(enum=REFUND_STATUSES, nullable=True),
        "emailErrors": obj(
            {"bounce": string(), "smtpCode": integer("int32")},
            optional=("bounce", "smtpCode"),
        ),
        "invoicePdfUrl": string("uri", nullable=True),
        "invoicePaymentUrl": string("uri", nullable=True),
        "lineItems": array(s["LineItem"]),
        "installments": array(s["Installment"]),
        "payments": array(s["Payment"]),
        "pendingPaymentAmount": DOLLARS,
        "clientName": string(nullable=True),
        "email": string(nullable=True),
        "ccEmails": string(description="Comma-separated"),
        "bccEmails": string(description="Comma-separated"),
        "businessId": integer(),
        "businessName": string(nullable=True),
        "businessAddress1": string(nullable=True),
        "businessAddress2": string(nullable=True),
        "businessCity": string(nullable=True),
        "businessState": string(nullable=True),
        "businessZip": string(nullable=True),
        "businessLogoUrl": string(nullable=True),
        "businessPhoneNumber": string(nullable=True),
        "clientInvoiceKey": string(),
        "amountPaid": DOLLARS,
        "paidDate": MAYBE_DATE,
        "acceptACH": boolean(),
        "acceptCredit": boolean(),
        "acceptCash": boolean(),
        "salesTax": number("double", description="Dollar total of the line taxes"),
        "v6InvoiceId": string(nullable=True),
        "customData": custom,
        "apiName": string(enum=API_NAMES),
        "currency": string(enum=("USD", "CAD")),
    }
    s["Invoice"] = api.schema("Invoice", obj(invoice))
    s["ClientInvoice"] = api.schema(
        "ClientInvoice",
        obj(
            {**invoice, "userEmail": string(), "brandColor": string()},
            description="The invoice as its client sees it, with the sender's branding.",
        ),
    )
    for name in ("Client", "Invoice"):
        s[f"{name}Page"] = api.schema(
            f"{name}Page",
            obj(
                {
                    "data": array(s[name]),
                    "page": integer("int32"),
                    "pageSize": integer("int32"),
                    "totalCount": integer("int32"),
                }
            ),
        )
    s["Written"] = api.schema(
        "InvoiceWritten",
        obj(
            {
                "result": string(enum=("SUCCESS",)),
                "invoiceId": integer(),
                "invoiceNo": integer(nullable=True),
                "invoice": s["Invoice"],
            }
        ),
    )
    line_input = body_obj(
        {
            "description": string(min_length=1),
            "quantity": number(description="Above zero; default 1"),
            "price": number(),
            "salesTax": number(minimum=0, maximum=100, description="Percent; default 0"),
            "apiItemId": string(),
        },
        required=("description", "price"),
    )
    draft: dict[str, Schema] = {
        "clientId": integer(),
        "name": string(),
        "date": string("date"),
        "term": string(enum=TERMS),
        "dueDate": string("date"),
        "personalNote": string(nullable=True),
        "frequency": string(enum=FREQUENCIES),
        "sendEmail": boolean(),
        "reminderSchedule": string(enum=REMINDERS),
        "email": string(),
        "ccEmails": string(),
        "bccEmails": string(),
        "acceptACH": boolean(),
        "acceptCredit": boolean(),
        "acceptCash": boolean(),
        "discountAmount": number(nullable=True, minimum=0),
        "discountPercent": number(nullable=True, minimum=0, maximum=100),
        "customData": {
            "description": "JSON text or an object, at most 2000 characters",
            "nullable": True,
        },
        "apiInvoiceId": string(nullable=True),
        "apiName": string(enum=API_NAMES),
        "currency": string(enum=("USD", "CAD")),
        "invoiceNo": integer(minimum=1),
        "lineItems": array(line_input),
    }
    s["NewDraft"] = api.schema(
        "NewDraftInvoice", body_obj(draft, required=("clientId", "lineItems"))
    )
    s["DraftUpdate"] = api.schema(
        "DraftInvoiceUpdate",
        body_obj(
            {"id": integer(), **{k: v for k, v in draft.items() if k != "clientId"}},
            required=("id",),
        ),
    )
    s["InvoiceRef"] = api.schema("InvoiceRef", body_obj({"id": integer()}, required=("id",)))
    return s


def build() -> Api:
    """The Tight sandbox's API."""
    api = Api(
        title="Tight v5 API (clubgraph sandbox)",
        description=(
            "OAuth 2.0 bearer tokens from POST /v5/auth/token (client_credentials), camelCase "
            "JSON, dates YYYY-MM-DD, dollar amounts as JSON numbers with totalAmountCents "
            "authoritative. Lists page with page (from 1) and pageSize (1-"
            f"{MAX_PAGE_SIZE}, default {DEFAULT_PAGE_SIZE}). The real base URL ends in /rest."
        ),
    )
    api.security_schemes["bearerAuth"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "access_token from POST /v5/auth/token.",
    }
    api.security_schemes["clientInvoiceKey"] = {
        "type": "apiKey",
        "in": "header",
        "name": "clientInvoiceKey",
        "description": "An invoice's clientInvoiceKey: reads that one invoice.",
    }
    api.security = [{"bearerAuth": []}]
    for tag, text in (
        ("auth", "OAuth 2.0 token endpoint"),
        ("businesses", "Businesses the token reaches"),
        ("clients", "Invoicing clients"),
        ("invoices", "Invoices, drafts and recurring invoices"),
    ):
        api.tag(tag, text)
    s = _schemas(api)
    api.common_responses["401"] = response("Missing, invalid or expired token", s["OAuthError"])
    bad = response("Invalid parameter or body", s["Failure"])
    missing = response("Not found", s["Failure"])
    conflict = response("Not allowed in the invoice's state", s["Failure"])
    paging = [
        query("page", integer("int32", minimum=1, default=1), "1-based page number"),
        query(
            "pageSize",
            integer("int32", minimum=1, maximum=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE),
            "Rows a page",
        ),
    ]

    def order(fields: tuple[str, ...], default: str, direction: str) -> list[Schema]:
        return [
            query("sort", string(enum=fields) | {"default": default}, "Sort field"),
            query(
                "sortDirection",
                string(enum=("ASC", "DESC")) | {"default": direction},
                "Direction; ties by id in the same direction",
            ),
        ]

    written = response("The invoice written", s["Written"])
    token_fields: dict[str, Schema] = {
        "client_id": string(),
        "client_secret": string(),
        "grant_type": string(enum=("client_credentials", "refresh_token", "authorization_code")),
        "userId": string(),
        "refresh_token": string(),
        "code": string(),
    }
    token_body = body_obj(token_fields, required=("client_id", "client_secret", "grant_type"))
    api.operation(
        "post",
        "/v5/auth/token",
        "createToken",
        "OAuth 2.0 token endpoint",
        tag="auth",
        public=True,
        body={
            "required": True,
            "content": {
                **content(token_body, "application/x-www-form-urlencoded"),
                **content(token_body),
            },
        },
        responses={
            200: response("Tokens", s["Token"]),
            400: response("Bad grant or body", s["OAuthError"]),
            401: response("Bad client credentials", s["OAuthError"]),
        },
    )
    api.operation(
        "get",
        "/v5/businesses",
        "listBusinesses",
        "The businesses the token reaches",
        tag="businesses",
        responses={200: response("Businesses", obj({"data": array(s["Business"])}))},
    )
    api.operation(
        "get",
        "/v5/invoicing/clients",
        "listClients",
        "A page of clients",
        tag="clients",
        params=[
            *paging,
            *order(("name", "createdDate"), "name", "ASC"),
            query("search", string(), "Part of the name or email, any case"),
            query("email", string(), "The whole email, any case"),
        ],
        responses={200: response("A page of clients", s["ClientPage"]), 400: bad},
    )
    api.operation(
        "get",
        "/v5/invoicing/clients/{id}",
        "getClient",
        "Get a client",
        tag="clients",
        params=[path_param("id", integer(), "Client id")],
        responses={200: response("The client", s["Client"]), 404: missing},
    )
    api.operation(
        "post",
        "/v5/invoicing/client",
        "createClient",
        "Create a client",
        tag="clients",
        body=json_body(
            body_obj(
                {
                    "name": string(),
                    "firstName": string(),
                    "lastName": string(),
                    "email": string(),
                    "phone": string(),
                    "address1": string(),
                    "city": string(),
                    "zip": string(),
                    "country": string(),
                },
                required=("email",),
            ),
            "name, or firstName and lastName, and a unique email",
        ),
        responses={
            200: response(
                "The client created",
                obj(
                    {
                        "result": string(enum=("SUCCESS",)),
                        "clientId": integer(),
                        "client": s["Client"],
                    }
                ),
            ),
            400: bad,
        },
    )
    api.operation(
        "get",
        "/v5/invoicing/invoices",
        "listInvoices",
        "A page of invoices",
        tag="invoices",
        params=[
            *paging,
            *order(("date", "dueDate", "totalAmount", "invoiceNo"), "date", "DESC"),
            query("clientId", integer(), "Only this client's"),
            query("status", string(), f"Comma-separated: {', '.join(STATUSES)}"),
            query("isRecurringParent", boolean(), "Recurring parents (true) or not (false)"),
            query("parentId", integer(), "Children of this recurring parent"),
            query("startDate", string("date"), "Invoice date from, inclusive"),
            query("endDate", string("date"), "Invoice date until, inclusive"),
            query("dueStartDate", string("date"), "Due date from, inclusive"),
            query("dueEndDate", string("date"), "Due date until, inclusive"),
            query("hasBalance", boolean(), "A balance left (true) or none (false)"),
        ],
        responses={200: response("A page of invoices", s["InvoicePage"]), 400: bad},
    )
    api.operation(
        "get",
        "/v5/invoicing/invoices/{id}",
        "getInvoice",
        "Get an invoice",
        tag="invoices",
        params=[path_param("id", integer(), "Invoice id")],
        responses={200: response("The invoice", s["Invoice"]), 404: missing},
    )
    api.operation(
        "post",
        "/v5/invoicing/clientInvoiceKey",
        "getInvoiceByClientInvoiceKey",
        "Read one invoice with its client invoice key, in lieu of an access token",
        tag="invoices",
        security=[{"clientInvoiceKey": []}],
        params=[query("clientInvoiceKey", string(), "The key, when not sent as a header")],
        responses={
            200: response("The invoice", s["ClientInvoice"]),
            400: response("No key given", s["Failure"]),
            404: response("No invoice has this key", s["Failure"]),
        },
    )
    api.operation(
        "post",
        "/v5/invoicing/invoice",
        "createDraftInvoice",
        "Create a draft invoice",
        tag="invoices",
        body=json_body(s["NewDraft"]),
        responses={200: written, 400: bad},
    )
    api.operation(
        "put",
        "/v5/invoicing/invoice",
        "updateDraftInvoice",
        "Change a draft invoice",
        tag="invoices",
        body=json_body(s["DraftUpdate"]),
        responses={200: written, 400: bad, 404: missing, 409: conflict},
    )
    for path, op_id, summary in (
        ("send", "sendInvoice", "Send a draft invoice to its client"),
        ("cancel", "cancelInvoice", "Cancel an invoice without payments (or withdraw a draft)"),
        ("refund", "refundInvoice", "Refund an invoice's payments"),
    ):
        api.operation(
            "post",
            f"/v5/invoicing/invoice/{path}",
            op_id,
            summary,
            tag="invoices",
            body=json_body(s["InvoiceRef"]),
            responses={200: written, 400: bad, 404: missing, 409: conflict},
        )
    return api


def install_openapi(app: web.Application) -> None:
    """Serve this document at ``GET /openapi.json``."""
    install(app, build)
