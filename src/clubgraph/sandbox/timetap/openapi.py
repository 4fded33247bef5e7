"""The OpenAPI 3.0.3 document of the TimeTap sandbox (``GET /openapi.json``)."""

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
    number,
    obj,
    path_param,
    query,
    response,
    string,
)
from .invoices import INVOICE_TYPES, SUB_STATUSES
from .reads import LISTABLE_STATUSES, MAX_PAGE_SIZE

EPOCH_MS = integer(description="Milliseconds since 1970-01-01T00:00:00Z")
MAYBE_EPOCH_MS = integer(nullable=True, description="Milliseconds since 1970-01-01T00:00:00Z")
MONEY = number(description="Major units of the business currency (a JSON number)")
MAYBE_MONEY = number(nullable=True, description="Major units of the business currency")
STATUSES = ("OPEN", "CLOSED", "VOID", "DELETED")
ITEM_TYPES = (
    "APPOINTMENT",
    "RECURRING_APPOINTMENT",
    "PACKAGE",
    "PRODUCT",
    "GIFT_CARD",
    "FEE",
    "REFUND",
)


def _schemas(api: Api) -> dict[str, Schema]:
    s: dict[str, Schema] = {}
    s["Error"] = api.schema(
        "Error",
        obj({"errorCode": string(), "errorMessage": string(), "fieldName": string(nullable=True)}),
    )
    s["Errors"] = api.schema(
        "Errors", obj({"errors": array(s["Error"])}, description="Error body (inferred).")
    )
    s["SessionToken"] = api.schema("SessionToken", obj({"sessionToken": string()}))
    s["Business"] = api.schema(
        "Business",
        obj(
            {
                "businessId": integer(),
                "businessName": string(),
                "currency": string(example="USD"),
                "timeZone": string(example="US/Eastern"),
            }
        ),
    )
    s["Client"] = api.schema(
        "Client",
        obj(
            {
                "clientId": integer(),
                "businessId": integer(),
                "firstName": string(nullable=True),
                "lastName": string(nullable=True),
                "fullName": string(nullable=True),
                "emailAddress": string(nullable=True),
                "cellPhone": string(nullable=True),
                "homePhone": string(nullable=True),
                "address1": string(nullable=True),
                "city": string(nullable=True),
                "state": string(nullable=True),
                "zip": string(nullable=True),
                "country": string(nullable=True),
                "createdDate": MAYBE_EPOCH_MS,
                "active": boolean(),
                "status": string(),
            }
        ),
    )
    item: dict[str, Schema] = {
        "invoiceItemId": integer(),
        "invoiceId": integer(nullable=True, description="null while uninvoiced"),
        "businessId": integer(),
        "clientId": integer(),
        "active": boolean(),
        "itemType": string(enum=ITEM_TYPES),
        "description": string(nullable=True),
        "quantity": integer("int32"),
        "rate": MONEY,
        "discountAmount": MAYBE_MONEY,
        "discountPercentage": number(nullable=True),
        "taxable": boolean(),
        "calendarId": integer(nullable=True),
        "productId": integer(nullable=True),
        "packageSoldId": integer(nullable=True),
        "recurringAppointmentId": integer(nullable=True),
        "giftCardUUId": integer(nullable=True),
        "reasonId": integer(nullable=True),
        "depositAmount": MAYBE_MONEY,
        "createdDate": EPOCH_MS,
        "createdUser": string(nullable=True),
        "modifiedUser": string(nullable=True),
        "grossAmount": MONEY,
        "netAmount": MONEY,
        "taxAmount": MONEY,
        "tax2Amount": MONEY,
    }
    s["InvoiceItem"] = api.schema("InvoiceItem", obj(item))
    s["Invoice"] = api.schema(
        "Invoice",
        obj(
            {
                "invoiceId": integer(),
                "businessId": integer(),
                "invoiceNumber": string(nullable=True),
                "invoiceType": string(enum=INVOICE_TYPES),
                "invoiceHash": string(),
                "status": string(enum=STATUSES),
                "subStatus": string(enum=SUB_STATUSES),
                "active": boolean(description="false once deleted (soft delete)"),
                "currency": string(example="USD"),
                "invoiceDate": EPOCH_MS,
                "invoiceDueDate": MAYBE_EPOCH_MS,
                "chargeDate": MAYBE_EPOCH_MS,
                "createdDate": EPOCH_MS,
                "lastStatusDate": MAYBE_EPOCH_MS,
                "paidOnDate": MAYBE_EPOCH_MS,
                "createdUser": string(nullable=True),
                "modifiedUser": string(nullable=True),
                "comments": string(nullable=True),
                "preAuthPayment": boolean(),
                "billingLocationId": integer(nullable=True),
                "billingStaffId": integer(nullable=True),
                "location": obj({"locationId": integer(), "locationName": string()}, nullable=True),
                "staff": obj({"professionalId": integer(), "fullName": string()}, nullable=True),
                "subtotalAmount": MONEY,
                "taxAmount": MONEY,
                "tax2Amount": MONEY,
                "tipAmount": MONEY,
                "transactionFeeAmount": MONEY,
                "depositAmount": MAYBE_MONEY,
                "paidAmount": MONEY,
                "writeOffAmount": MONEY,
                "balanceAmount": MONEY,
                "client": s["Client"],
                "invoiceItem": array(s["InvoiceItem"]),
            }
        ),
    )
    s["ClientReport"] = api.schema(
        "ClientReport", obj({"count": integer("int32"), "clientList": array(s["Client"])})
    )
    s["ItemReport"] = api.schema(
        "InvoiceItemReport",
        obj({"count": integer("int32"), "invoiceItemList": array(s["InvoiceItem"])}),
    )
    writable_item: dict[str, Schema] = {
        "invoiceItemId": integer(),
        "invoiceId": integer(),
        "businessId": integer(),
        "clientId": integer(),
        "active": boolean(),
        "itemType": string(enum=ITEM_TYPES),
        "description": string(),
        "quantity": integer("int32", minimum=1),
        "rate": number(),
        "discountAmount": number(nullable=True),
        "discountPercentage": number(nullable=True),
        "taxable": boolean(),
        "calendarId": integer(nullable=True),
        "productId": integer(nullable=True),
        "packageSoldId": integer(nullable=True),
        "recurringAppointmentId": integer(nullable=True),
        "giftCardUUId": integer(nullable=True),
        "reasonId": integer(nullable=True),
    }
    s["NewInvoiceItem"] = api.schema(
        "NewInvoiceItem",
        body_obj(
            {k: v for k, v in writable_item.items() if k != "invoiceItemId"},
            required=("clientId", "quantity", "rate", "active"),
        ),
    )
    s["InvoiceItemUpdate"] = api.schema(
        "InvoiceItemUpdate",
        body_obj(
            {
                k: writable_item[k]
                for k in (
                    "invoiceItemId",
                    "businessId",
                    "description",
                    "quantity",
                    "rate",
                    "discountAmount",
                    "discountPercentage",
                    "active",
                    "taxable",
                )
            },
            required=("invoiceItemId",),
        ),
    )
    writable_invoice: dict[str, Schema] = {
        "invoiceNumber": string(nullable=True),
        "comments": string(nullable=True),
        "invoiceDate": EPOCH_MS,
        "invoiceDueDate": MAYBE_EPOCH_MS,
        "chargeDate": MAYBE_EPOCH_MS,
        "preAuthPayment": boolean(),
        "billingLocationId": integer(),
        "billingStaffId": integer(),
    }
    s["NewInvoice"] = api.schema(
        "NewInvoice",
        body_obj(
            {
                "businessId": integer(),
                "client": obj({"clientId": integer()}),
                "invoiceType": string(enum=INVOICE_TYPES),
                **writable_invoice,
                "tipAmount": number(),
                "transactionFeeAmount": number(),
                "invoiceItem": array(s["NewInvoiceItem"]),
            },
            required=("client", "invoiceDate", "invoiceType"),
        ),
    )
    s["InvoiceUpdate"] = api.schema(
        "InvoiceUpdate",
        body_obj(
            {
                "invoiceId": integer(),
                "businessId": integer(),
                "status": string(enum=STATUSES[:3]),
                "subStatus": string(enum=SUB_STATUSES),
                **writable_invoice,
                "writeOffAmount": number(),
            },
            required=("invoiceId",),
        ),
    )
    return s


def build() -> Api:
    """The TimeTap sandbox's API."""
    api = Api(
        title="TimeTap API (clubgraph sandbox)",
        description=(
            "Business-scoped REST, camelCase JSON, dates as epoch milliseconds, amounts as "
            "JSON numbers in major units. GET /sessionToken with apiKey, timestamp (seconds) "
            "and signature (MD5 hex of apiKey + privateKey) gives a session token for the "
            "key's business; send it as a Bearer credential. Without pageNumber/pageSize a "
            f"list answers every row; pageSize is at most {MAX_PAGE_SIZE}."
        ),
    )
    api.security_schemes["sessionToken"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "sessionToken from GET /sessionToken.",
    }
    api.security = [{"sessionToken": []}]
    for tag, text in (
        ("session", "Session tokens"),
        ("business", "The session's business"),
        ("clients", "Clients of the business"),
        ("invoices", "Invoices (lines embedded as invoiceItem; soft delete)"),
        ("invoiceItems", "Invoice items (lines), invoiced or not"),
    ):
        api.tag(tag, text)
    s = _schemas(api)

    def error(text: str) -> Schema:
        return response(text, s["Errors"])

    api.common_responses["401"] = error("Session token missing, invalid or expired")
    bad, missing = error("Invalid parameter or body"), error("Not found")
    paging = [
        query("pageNumber", integer("int32", minimum=1, default=1), "1-based page number"),
        query("pageSize", integer("int32", minimum=1, maximum=MAX_PAGE_SIZE), "Rows a page"),
    ]

    def order(fields: tuple[str, ...], default: str) -> list[Schema]:
        return [
            query("order_field", string(enum=fields) | {"default": default}, "Sort field"),
            query(
                "order_mode",
                string(enum=("asc", "desc")) | {"default": "asc"},
                "Direction; ties by id in the same direction",
            ),
        ]

    client_id = path_param("clientId", integer(), "Client id")
    invoices = response("Invoices", array(s["Invoice"]))
    invoice = response("The invoice", s["Invoice"])
    items = response("Invoice items", array(s["InvoiceItem"]))
    item = response("The invoice item", s["InvoiceItem"])

    api.operation(
        "get",
        "/sessionToken",
        "getSessionToken",
        "Exchange a signed API key for a session token",
        tag="session",
        public=True,
        params=[
            query("apiKey", string(), "The business's API key", required=True),
            query("timestamp", integer(), "Seconds since 1970 (within 5 minutes)", required=True),
            query("signature", string(), "MD5 hex of apiKey + privateKey", required=True),
        ],
        responses={
            200: response("A session token", s["SessionToken"]),
            400: error("Missing parameter or bad timestamp"),
            401: error("Unknown key, stale timestamp or wrong signature"),
        },
    )
    api.operation(
        "get",
        "/business",
        "getBusiness",
        "The session's business",
        tag="business",
        responses={200: response("The business", s["Business"])},
    )
    api.operation(
        "get",
        "/clients",
        "listClients",
        "Every active client of the business",
        tag="clients",
        params=paging,
        responses={200: response("Clients", array(s["Client"])), 400: bad},
    )
    api.operation(
        "get",
        "/clients/{clientId}",
        "getClient",
        "Get a client",
        tag="clients",
        params=[client_id],
        responses={200: response("The client", s["Client"]), 400: bad, 404: missing},
    )
    api.operation(
        "get",
        "/clientList/reportWithCount",
        "clientReport",
        "One ordered, filtered page of clients and the total",
        tag="clients",
        params=[
            *paging,
            *order(("clientId", "fullName", "lastName", "firstName", "createdDate"), "clientId"),
            query("searchString", string(), "Part of the name or email, any case"),
            query("emailAddress", string(), "The whole email address, any case"),
        ],
        responses={200: response("Clients and count", s["ClientReport"]), 400: bad},
    )
    api.operation(
        "get",
        "/invoices/status/{statusString}",
        "listInvoicesByStatus",
        "One ordered, filtered page of the business's invoices in a status",
        tag="invoices",
        params=[
            path_param("statusString", string(enum=LISTABLE_STATUSES), "Invoice status"),
            *paging,
            *order(
                (
                    "invoiceId",
                    "invoiceDate",
                    "invoiceDueDate",
                    "invoiceNumber",
                    "createdDate",
                    "chargeDate",
                    "lastStatusDate",
                    "paidOnDate",
                ),
                "invoiceId",
            ),
            query("invoiceStartDate", string("date"), "Invoice date from (UTC day)"),
            query("invoiceEndDate", string("date"), "Invoice date until (UTC day, included)"),
            query("chargeStartDate", string("date"), "Charge date from (UTC day)"),
            query("chargeEndDate", string("date"), "Charge date until (UTC day, included)"),
        ],
        responses={200: invoices, 400: bad},
    )
    api.operation(
        "get",
        "/invoices/client/{clientId}",
        "listClientInvoices",
        "A client's active invoices",
        tag="invoices",
        params=[client_id],
        responses={200: invoices, 400: bad, 404: missing},
    )
    api.operation(
        "get",
        "/invoices/{invoiceId}",
        "getInvoice",
        "Get an invoice (deleted ones too)",
        tag="invoices",
        params=[path_param("invoiceId", integer(), "Invoice id")],
        responses={200: invoice, 400: bad, 404: missing},
    )
    api.operation(
        "post",
        "/invoices",
        "createInvoice",
        "Create an invoice, optionally with lines",
        tag="invoices",
        body=json_body(s["NewInvoice"]),
        responses={200: invoice, 400: bad, 404: missing},
    )
    api.operation(
        "post",
        "/invoices/client/{clientId}",
        "createClientInvoice",
        "Invoice a client for new or uninvoiced items",
        tag="invoices",
        params=[
            client_id,
            query(
                "invoiceType",
                string(enum=("INVOICE", "QUOTE")) | {"default": "INVOICE"},
                "Invoice or quote",
            ),
        ],
        body=json_body(
            array(s["NewInvoiceItem"]), "Items; an invoiceItemId names an uninvoiced one"
        ),
        responses={200: invoice, 400: bad, 404: missing},
    )
    api.operation(
        "put",
        "/invoices",
        "updateInvoice",
        "Change an invoice's properties or status",
        tag="invoices",
        body=json_body(s["InvoiceUpdate"]),
        responses={200: invoice, 400: bad, 404: missing},
        description='A status change needs subStatus "Manual".',
    )
    api.operation(
        "delete",
        "/invoices/{invoiceId}",
        "deleteInvoice",
        "Delete an invoice (soft delete: active=false, status DELETED)",
        tag="invoices",
        params=[path_param("invoiceId", integer(), "Invoice id")],
        responses={200: invoice, 400: bad, 404: missing},
    )
    api.operation(
        "get",
        "/invoiceItem/client/{clientId}/uninvoiced",
        "listUninvoicedItems",
        "A client's items not on any invoice",
        tag="invoiceItems",
        params=[client_id],
        responses={200: items, 400: bad, 404: missing},
    )
    for path, op_id, name, summary in (
        ("/invoiceItem/product/{productId}", "listItemsByProduct", "productId", "a product"),
        (
            "/invoiceItem/recurringAppointments/{recurringAppointmentId}",
            "listItemsByRecurringAppointment",
            "recurringAppointmentId",
            "a recurring appointment",
        ),
        (
            "/invoiceItem/appointment/{calendarId}",
            "listItemsByAppointment",
            "calendarId",
            "an appointment",
        ),
    ):
        api.operation(
            "get",
            path,
            op_id,
            f"The active items of {summary}",
            tag="invoiceItems",
            params=[path_param(name, integer())],
            responses={200: items, 400: bad},
        )
    api.operation(
        "get",
        "/invoiceItemList/reportWithCount",
        "invoiceItemReport",
        "One page of the business's active items (by id) and the total",
        tag="invoiceItems",
        params=paging,
        responses={200: response("Items and count", s["ItemReport"]), 400: bad},
    )
    api.operation(
        "post",
        "/invoiceItems",
        "createInvoiceItems",
        "Add items to open invoices",
        tag="invoiceItems",
        body=json_body(array(s["NewInvoiceItem"]), "Errors name a line as [n].property"),
        responses={200: items, 400: bad, 404: missing},
    )
    api.operation(
        "post",
        "/invoiceItem",
        "createInvoiceItem",
        "Add an item to an open invoice",
        tag="invoiceItems",
        body=json_body(s["NewInvoiceItem"]),
        responses={200: item, 400: bad, 404: missing},
    )
    api.operation(
        "put",
        "/invoiceItem",
        "updateInvoiceItem",
        "Change an item of an open invoice",
        tag="invoiceItems",
        body=json_body(s["InvoiceItemUpdate"]),
        responses={200: item, 400: bad, 404: missing},
    )
    api.operation(
        "delete",
        "/invoiceItem/{invoiceItemId}",
        "deleteInvoiceItem",
        "Delete an item (soft delete: active=false)",
        tag="invoiceItems",
        params=[path_param("invoiceItemId", integer(), "Invoice item id")],
        responses={200: item, 400: bad, 404: missing},
    )
    return api


def install_openapi(app: web.Application) -> None:
    """Serve this document at ``GET /openapi.json``."""
    install(app, build)
