"""The OpenAPI 3.0.3 document of the FitnessForce UFP sandbox (``GET /openapi.json``)."""

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
    maybe,
    number,
    obj,
    path_param,
    query,
    response,
    string,
)
from .state import CHANNELS, FREEZE_STATUSES, INVOICE_STATUSES, SUBSCRIPTION_STATUSES

DATE = string("date", description="YYYY-MM-DD")
DATETIME = string("date-time", description="ISO 8601 in the tenant's local time, with offset")
MONEY = number("double", description="Major units of currency_code (JSON decimal number)")
CURRENCY = string(description="ISO 4217 currency code", example="EUR")
FREQUENCIES = ("Weekly", "Fortnightly", "Monthly", "Quarterly", "HalfYearly", "Yearly", "OneTime")


def _schemas(api: Api) -> dict[str, Schema]:
    s: dict[str, Schema] = {}
    s["ValidationError"] = api.schema(
        "ValidationError",
        obj(
            {
                "severity": string(enum=("Error", "Warning", "Info")),
                "errorCode": string(),
                "errorMessage": string(),
                "identifier": string(nullable=True),
                "helptext": string(nullable=True),
                "jsonObject": string(nullable=True),
            },
            description="UFP's ValidationError object (documented).",
        ),
    )
    s["Errors"] = api.schema(
        "Errors",
        obj({"errors": array(s["ValidationError"])}, description="4xx body (inferred)."),
    )
    s["Token"] = api.schema(
        "Token",
        obj(
            {
                "access_token": string(),
                "token_type": string(enum=("Bearer",)),
                "expires_in": integer("int32", description="Seconds"),
                "refresh_token": string(),
            }
        ),
    )
    s["Staff"] = api.schema("Staff", obj({"staff_id": integer(), "staff_name": string()}))
    s["TaxGroup"] = api.schema(
        "TaxGroup",
        obj(
            {
                "tax_group_id": integer(),
                "tax_group_name": string(),
                "tax_percentage": number("double"),
            }
        ),
    )
    tenant: dict[str, Schema] = {
        "tenant_id": integer(),
        "tenant_name": string(),
        "company_id": integer(),
        "company_name": string(),
        "currency_code": CURRENCY,
        "time_zone": string(description="IANA time zone", example="Europe/Amsterdam"),
        "country_code": string(example="NL"),
        "invoice_prefix": string(),
        "is_active": boolean(),
    }
    s["TenantSummary"] = api.schema("TenantSummary", obj(tenant))
    s["Tenant"] = api.schema("Tenant", obj({**tenant, "tax_groups": array(s["TaxGroup"])}))
    s["Address"] = api.schema(
        "Address",
        obj(
            {
                "address_line1": string(nullable=True),
                "city": string(nullable=True),
                "zip_code": string(nullable=True),
                "country_code": string(nullable=True),
            }
        ),
    )
    s["Client"] = api.schema(
        "Client",
        obj(
            {
                "client_id": integer(),
                "tenant_id": integer(),
                "member_id": string(),
                "first_name": string(nullable=True),
                "last_name": string(nullable=True),
                "full_name": string(nullable=True),
                "email": string("email", nullable=True),
                "mobile_number": string(nullable=True),
                "date_of_birth": string("date", nullable=True),
                "gender": string(enum=("Female", "Male", "Other"), nullable=True),
                "address": s["Address"],
                "client_status": string(enum=("Active", "Inactive")),
                "client_representative": s["Staff"],
                "created_date": DATETIME,
            }
        ),
    )
    s["InvoiceDetail"] = api.schema(
        "InvoiceDetail",
        obj(
            {
                "invoice_detail_id": integer(),
                "line_number": integer("int32"),
                "charge_name": string(),
                "charge_type": string(enum=("Membership", "Fee", "Product", "Service", "Discount")),
                "quantity": integer("int32"),
                "unit_price": MONEY,
                "discount_amount": MONEY,
                "tax_group": maybe(s["TaxGroup"]),
                "tax_amount": MONEY,
                "net_amount": MONEY,
            },
            description="An invoice line, embedded in the invoice as invoice_details.",
        ),
    )
    s["Communication"] = api.schema(
        "Communication",
        obj(
            {
                "communication_id": integer(),
                "type": string(enum=("ClearBalanceLink", "InvoicePdf")),
                "channel": string(enum=CHANNELS),
                "sent_at": DATETIME,
            }
        ),
    )
    s["Invoice"] = api.schema(
        "Invoice",
        obj(
            {
                "invoice_id": integer(),
                "invoice_number": string(nullable=True),
                "tenant_id": integer(),
                "client_id": integer(),
                "subscription_id": integer(nullable=True),
                "invoice_date": DATETIME,
                "due_date": string("date", nullable=True),
                "paid_date": string("date-time", nullable=True),
                "status": string(enum=INVOICE_STATUSES),
                "currency_code": CURRENCY,
                "gross_amount": MONEY,
                "discount_amount": MONEY,
                "tax_amount": MONEY,
                "net_amount": MONEY,
                "paid_amount": MONEY,
                "refunded_amount": MONEY,
                "written_off_amount": MONEY,
                "balance_amount": MONEY,
                "sales_rep": s["Staff"],
                "remarks": string(nullable=True),
                "void_reason": string(nullable=True),
                "communication_log": array(s["Communication"]),
                "invoice_details": array(s["InvoiceDetail"]),
            }
        ),
    )
    s["Freeze"] = api.schema(
        "Freeze",
        obj(
            {
                "freeze_id": integer(),
                "freeze_start_date": DATE,
                "freeze_end_date": DATE,
                "status": string(enum=FREEZE_STATUSES),
                "reason": string(),
            }
        ),
    )
    s["Subscription"] = api.schema(
        "Subscription",
        obj(
            {
                "subscription_id": integer(),
                "client_id": integer(),
                "tenant_id": integer(),
                "plan_id": integer(),
                "plan_name": string(),
                "subscription_status": string(enum=SUBSCRIPTION_STATUSES),
                "billing_frequency": string(enum=FREQUENCIES),
                "recurring_amount": MONEY,
                "currency_code": CURRENCY,
                "start_date": string("date", nullable=True),
                "end_date": string("date", nullable=True),
                "next_billing_date": string("date", nullable=True),
                "auto_renew": boolean(),
                "cancellation": obj({"cancellation_date": DATE, "reason": string()}, nullable=True),
                "void": obj({"void_date": DATE, "void_reason": string()}, nullable=True),
                "freezes": array(s["Freeze"]),
                "sales_rep": s["Staff"],
                "created_date": DATETIME,
            }
        ),
    )
    s["Plan"] = api.schema(
        "SubscriptionPlan",
        obj(
            {
                "plan_id": integer(),
                "tenant_id": integer(),
                "plan_name": string(),
                "billing_frequency": string(enum=FREQUENCIES),
                "price": MONEY,
                "currency_code": CURRENCY,
                "duration_months": integer("int32", nullable=True),
                "joining_fee": MONEY,
                "tax_group_id": integer(),
                "is_active": boolean(),
            }
        ),
    )
    s["Delivery"] = api.schema(
        "DeliveryResult",
        obj(
            {
                "channel": string(enum=CHANNELS),
                "client_id": integer(),
                "staff_id": integer(),
                "success": boolean(),
                "error": {"allOf": [s["ValidationError"]], "nullable": True},
            }
        ),
    )
    for name in ("Tenant", "Client", "Invoice", "Subscription", "Plan"):
        label = {"Tenant": "TenantSummary", "Plan": "SubscriptionPlan"}.get(name, name)
        item = s["TenantSummary"] if name == "Tenant" else s[name]
        s[f"{name}Page"] = api.schema(
            f"{label}Page",
            obj(
                {
                    "page_number": integer("int32"),
                    "page_size": integer("int32"),
                    "total_records": integer("int32"),
                    "total_pages": integer("int32"),
                    "data": array(item),
                },
                description="One page of a UFP list (inferred envelope).",
            ),
        )
    return s


def build() -> Api:
    """The FitnessForce UFP sandbox's API."""
    api = Api(
        title="FitnessForce UFP API (clubgraph sandbox)",
        description=(
            "Tenant-scoped REST, snake_case JSON, integer ids, amounts as JSON decimal "
            "numbers in major units with currency_code, dates YYYY-MM-DD, datetimes in the "
            "tenant's local time with offset. Authenticate with POST /authentication/token, "
            "then send the access token as a Bearer credential."
        ),
    )
    api.security_schemes["bearerAuth"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "access_token from POST /authentication/token (or refresh_token).",
    }
    api.security = [{"bearerAuth": []}]
    for tag, text in (
        ("authentication", "Access and refresh tokens"),
        ("tenants", "Tenants (clubs) the API user reaches"),
        ("clients", "Clients (members) of a tenant"),
        ("invoices", "Invoices with their invoice_details lines"),
        ("subscriptions", "Client subscriptions (memberships), freezes and plans"),
    ):
        api.tag(tag, text)
    s = _schemas(api)
    errors = s["Errors"]

    def error(text: str) -> Schema:
        return response(text, errors)

    api.common_responses["401"] = error("Missing, invalid or expired access token")
    bad, missing, conflict = (
        error("Invalid parameter or body"),
        error("Not found"),
        error("Not allowed in the current state"),
    )

    tenant_id = path_param("tenant_id", integer(), "Tenant id")
    client_id = path_param("client_id", integer(), "Client id")
    invoice_id = path_param("invoice_id", integer(), "Invoice id")
    sub_id = path_param("subscription_id", integer(), "Subscription id")
    freeze_id = path_param("freeze_id", integer(), "Freeze id")
    plan_id = path_param("plan_id", integer(), "Subscription plan id")
    paging = [
        query("page_number", integer("int32", minimum=1, default=1), "1-based page number"),
        query("page_size", integer("int32", minimum=1, maximum=200, default=25), "Rows a page"),
    ]

    def order(fields: tuple[str, ...], default: str, direction: str) -> list[Schema]:
        return [
            query("sort_by", string(enum=fields) | {"default": default}, "Sort field"),
            query(
                "sort_order",
                string(enum=("asc", "desc")) | {"default": direction},
                "Direction; ties in id order in the same direction",
            ),
        ]

    invoice_filters = [
        *paging,
        *order(
            ("invoice_date", "due_date", "net_amount", "invoice_number"), "invoice_date", "desc"
        ),
        query("status", string(), f"Comma-separated statuses: {', '.join(INVOICE_STATUSES)}"),
        query("from_date", string("date"), "Invoice date (tenant local) from, inclusive"),
        query("to_date", string("date"), "Invoice date (tenant local) until, inclusive"),
        query("due_from_date", string("date"), "Due date from, inclusive"),
        query("due_to_date", string("date"), "Due date until, inclusive"),
        query("outstanding_only", boolean(), "Only invoices with a balance above zero"),
    ]
    client_sorts = ("full_name", "client_id", "created_date")
    search = [
        query("search_text", string(), "Part of the name or email, any case"),
        query("email", string(), "Whole email address, any case"),
    ]
    sub_filters = [
        *paging,
        *order(("start_date", "subscription_id"), "start_date", "desc"),
        query("status", string(), f"Comma-separated: {', '.join(SUBSCRIPTION_STATUSES)}"),
    ]

    # --- authentication
    api.operation(
        "post",
        "/authentication/token",
        "generateToken",
        "Exchange username and password for tokens",
        tag="authentication",
        public=True,
        body=json_body(
            body_obj(
                {"username": string(), "password": string()}, required=("username", "password")
            )
        ),
        responses={
            200: response("Tokens", s["Token"]),
            400: error("username or password missing"),
            401: error("Wrong username or password"),
        },
    )
    api.operation(
        "post",
        "/authentication/refresh_token",
        "refreshToken",
        "Rotate both tokens with a refresh token",
        tag="authentication",
        public=True,
        body=json_body(body_obj({"refresh_token": string()}, required=("refresh_token",))),
        responses={
            200: response("New tokens", s["Token"]),
            400: error("Body is not JSON"),
            401: error("Refresh token invalid or expired"),
        },
    )

    # --- tenants
    api.operation(
        "get",
        "/tenants",
        "listTenants",
        "List tenants",
        tag="tenants",
        params=paging,
        responses={200: response("A page of tenants", s["TenantPage"]), 400: bad},
    )
    api.operation(
        "get",
        "/tenant/{tenant_id}",
        "getTenant",
        "Get tenant details with tax groups",
        tag="tenants",
        params=[tenant_id],
        responses={200: response("The tenant", s["Tenant"]), 400: bad, 404: missing},
    )

    # --- clients
    api.operation(
        "get",
        "/clients/search",
        "searchClients",
        "Search clients across tenants",
        tag="clients",
        params=[
            *search,
            query("tenant_id", string(), "Comma-separated tenant ids (default: all)"),
            *paging,
            *order(client_sorts, "full_name", "asc"),
        ],
        responses={200: response("A page of clients", s["ClientPage"]), 400: bad, 404: missing},
        description="Needs search_text or email.",
    )
    api.operation(
        "get",
        "/tenant/{tenant_id}/clients",
        "listTenantClients",
        "Retrieve all clients of a tenant",
        tag="clients",
        params=[tenant_id, *paging, *order(client_sorts, "client_id", "asc")],
        responses={200: response("A page of clients", s["ClientPage"]), 400: bad, 404: missing},
    )
    api.operation(
        "get",
        "/tenant/{tenant_id}/clients/search",
        "searchTenantClients",
        "Search clients of a tenant",
        tag="clients",
        params=[tenant_id, *search, *paging, *order(client_sorts, "full_name", "asc")],
        responses={200: response("A page of clients", s["ClientPage"]), 400: bad, 404: missing},
        description="Needs search_text or email.",
    )
    api.operation(
        "get",
        "/tenant/{tenant_id}/clients/{client_id}",
        "getClient",
        "Get a client by id",
        tag="clients",
        params=[tenant_id, client_id],
        responses={200: response("The client", s["Client"]), 400: bad, 404: missing},
    )

    # --- invoices
    inv = "/tenant/{tenant_id}/clients/{client_id}/invoices"
    one = inv + "/{invoice_id}"
    api.operation(
        "get",
        "/tenant/{tenant_id}/invoices",
        "listTenantInvoices",
        "List the invoices of a tenant",
        tag="invoices",
        params=[tenant_id, query("client_id", integer(), "Only this client's"), *invoice_filters],
        responses={200: response("A page of invoices", s["InvoicePage"]), 400: bad, 404: missing},
    )
    api.operation(
        "get",
        inv,
        "listClientInvoices",
        "List a client's invoices",
        tag="invoices",
        params=[tenant_id, client_id, *invoice_filters],
        responses={200: response("A page of invoices", s["InvoicePage"]), 400: bad, 404: missing},
    )
    api.operation(
        "get",
        one,
        "getInvoice",
        "Get an invoice with its lines",
        tag="invoices",
        params=[tenant_id, client_id, invoice_id],
        responses={200: response("The invoice", s["Invoice"]), 400: bad, 404: missing},
    )
    api.operation(
        "get",
        one + "/pdf",
        "getInvoicePdf",
        "Download the invoice as PDF",
        tag="invoices",
        params=[tenant_id, client_id, invoice_id],
        responses={
            200: response("The PDF", string("binary"), "application/pdf"),
            400: bad,
            404: missing,
        },
    )
    reason = json_body(body_obj({"reason": string(min_length=1)}, required=("reason",)))
    api.operation(
        "post",
        one + "/void",
        "voidInvoice",
        "Void an invoice without payments",
        tag="invoices",
        params=[tenant_id, client_id, invoice_id],
        body=reason,
        responses={
            200: response("The voided invoice", s["Invoice"]),
            400: bad,
            404: missing,
            409: conflict,
        },
    )
    channels = {
        "required": False,
        "description": "Channels to send on (none: None)",
        "content": content(array(string(enum=CHANNELS))),
    }
    delivered = response(
        "One result per channel (declared text/plain, the body is a JSON array)",
        array(s["Delivery"]),
        "text/plain",
    )
    api.operation(
        "post",
        one + "/send_invoice_pdf",
        "sendInvoicePdf",
        "Send the invoice PDF to the client",
        tag="invoices",
        params=[tenant_id, client_id, invoice_id],
        body=channels,
        responses={200: delivered, 400: bad, 404: missing},
    )
    api.operation(
        "post",
        one + "/change_sales_rep",
        "changeInvoiceSalesRep",
        "Change the invoice's sales rep",
        tag="invoices",
        params=[tenant_id, client_id, invoice_id],
        body=json_body(body_obj({"staff_id": integer()}, required=("staff_id",))),
        responses={200: response("The invoice", s["Invoice"]), 400: bad, 404: missing},
    )
    api.operation(
        "post",
        one + "/send_invoice_clear_balance_link",
        "sendInvoiceClearBalanceLink",
        "Send a link to pay the invoice's balance",
        tag="invoices",
        params=[tenant_id, client_id, invoice_id],
        body=channels,
        responses={200: delivered, 400: bad, 404: missing},
    )

    # --- subscriptions
    subs = "/tenant/{tenant_id}/clients/{client_id}/subscriptions"
    sub = subs + "/{subscription_id}"
    freeze = sub + "/freezes/{freeze_id}"
    sub_ids = [tenant_id, client_id, sub_id]
    sub_ok = response("The subscription", s["Subscription"])
    freeze_ok = response("The freeze", s["Freeze"])
    api.operation(
        "get",
        "/tenant/{tenant_id}/subscriptions",
        "listTenantSubscriptions",
        "List the subscriptions of a tenant",
        tag="subscriptions",
        params=[tenant_id, *sub_filters],
        responses={200: response("A page", s["SubscriptionPage"]), 400: bad, 404: missing},
    )
    api.operation(
        "get",
        "/tenant/{tenant_id}/subscription_plans",
        "listSubscriptionPlans",
        "List the subscription plans of a tenant",
        tag="subscriptions",
        params=[tenant_id, *paging],
        responses={200: response("A page", s["PlanPage"]), 400: bad, 404: missing},
    )
    api.operation(
        "get",
        "/tenant/{tenant_id}/subscription_plans/{plan_id}",
        "getSubscriptionPlan",
        "Get a subscription plan",
        tag="subscriptions",
        params=[tenant_id, plan_id],
        responses={200: response("The plan", s["Plan"]), 400: bad, 404: missing},
    )
    api.operation(
        "get",
        subs,
        "listClientSubscriptions",
        "List a client's subscriptions",
        tag="subscriptions",
        params=[tenant_id, client_id, *sub_filters],
        responses={200: response("A page", s["SubscriptionPage"]), 400: bad, 404: missing},
    )
    api.operation(
        "get",
        sub,
        "getSubscription",
        "Get a client subscription",
        tag="subscriptions",
        params=sub_ids,
        responses={200: sub_ok, 400: bad, 404: missing},
    )
    api.operation(
        "get",
        sub + "/invoices",
        "listSubscriptionInvoices",
        "List the invoices of a subscription",
        tag="subscriptions",
        params=[*sub_ids, *invoice_filters],
        responses={200: response("A page of invoices", s["InvoicePage"]), 400: bad, 404: missing},
    )
    for path, op_id, summary, name in (
        ("/start_date", "changeSubscriptionStartDate", "Change the start date", "start_date"),
        ("/end_date", "changeSubscriptionEndDate", "Change the end date", "end_date"),
    ):
        api.operation(
            "put",
            sub + path,
            op_id,
            summary,
            tag="subscriptions",
            params=sub_ids,
            body=json_body(body_obj({name: string("date")}, required=(name,))),
            responses={200: sub_ok, 400: bad, 404: missing, 409: conflict},
        )
    api.operation(
        "post",
        sub + "/void",
        "voidSubscription",
        "Void a subscription",
        tag="subscriptions",
        params=sub_ids,
        body=reason,
        responses={200: sub_ok, 400: bad, 404: missing, 409: conflict},
    )
    api.operation(
        "post",
        sub + "/cancel",
        "cancelSubscription",
        "Cancel a subscription",
        tag="subscriptions",
        params=sub_ids,
        body=json_body(
            body_obj(
                {"reason": string(min_length=1), "cancellation_date": string("date")},
                required=("reason",),
            )
        ),
        responses={200: sub_ok, 400: bad, 404: missing, 409: conflict},
        description="cancellation_date defaults to today.",
    )
    api.operation(
        "post",
        sub + "/reactivate",
        "reactivateSubscription",
        "Reactivate a cancelled subscription",
        tag="subscriptions",
        params=sub_ids,
        responses={200: sub_ok, 400: bad, 404: missing, 409: conflict},
    )
    api.operation(
        "get",
        sub + "/freezes",
        "listSubscriptionFreezes",
        "List a subscription's freezes",
        tag="subscriptions",
        params=sub_ids,
        responses={200: response("The freezes", array(s["Freeze"])), 400: bad, 404: missing},
    )
    api.operation(
        "post",
        sub + "/freezes",
        "createSubscriptionFreeze",
        "Freeze a subscription for a period",
        tag="subscriptions",
        params=sub_ids,
        body=json_body(
            body_obj(
                {
                    "freeze_start_date": string("date"),
                    "freeze_end_date": string("date"),
                    "reason": string(min_length=1),
                },
                required=("freeze_start_date", "freeze_end_date", "reason"),
            )
        ),
        responses={201: freeze_ok, 400: bad, 404: missing, 409: conflict},
    )
    for path, op_id, summary in (
        ("/stop", "stopSubscriptionFreeze", "Stop an active freeze today"),
        ("/cancel", "cancelSubscriptionFreeze", "Cancel a scheduled freeze"),
    ):
        api.operation(
            "post",
            freeze + path,
            op_id,
            summary,
            tag="subscriptions",
            params=[*sub_ids, freeze_id],
            responses={200: freeze_ok, 400: bad, 404: missing, 409: conflict},
        )
    return api


def install_openapi(app: web.Application) -> None:
    """Serve this document at ``GET /openapi.json``."""
    install(app, build)
