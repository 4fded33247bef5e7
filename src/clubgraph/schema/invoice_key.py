"""``invoiceByKey``: one Tight invoice read with its client invoice key, no token needed.

Tight gives each invoice a client invoice key (in the link sent to the customer) that
authorizes reading that one invoice in lieu of an access token. A request without a
token whose every root field is ``invoiceByKey`` is admitted as a member holding those
keys: each key grants the invoice it opens (and its items), and nothing else; the
invoice's client and subscription show as absent unless the caller may see them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Annotated, Any

import strawberry
from graphql import (
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    VariableNode,
    parse,
)

from ..connectors.tight import TightConnector
from ..domain import Source
from ..identity import AUTH_REQUIRED, Principal, Unauthenticated
from .invoice import Invoice
from .node import Ctx

FIELD = "invoiceByKey"
# A key comes from a URL: URL-safe characters only (and never a header injection).
_KEY = re.compile(r"[A-Za-z0-9._~-]{1,256}")
# An anonymous caller's document is parsed once more here: keep that cheap.
_MAX_TOKENS = 500

KeyArg = Annotated[
    str,
    strawberry.argument(
        description="The invoice's client invoice key, from the link sent to the client."
    ),
]


async def invoice_by_key(info: Ctx, key: KeyArg) -> Invoice | None:
    """The invoice a client invoice key opens; null when it opens none."""
    connector = info.context.connectors.get(Source.TIGHT)
    if not isinstance(connector, TightConnector) or not _KEY.fullmatch(key):
        return None
    record = await connector.invoice_by_client_key(key)
    if record is None:
        return None
    context = info.context
    context.principal = principal = context.principal.with_invoice(record.key)
    # The key opens this invoice, not its client's other records: to a caller who may
    # not see them, they are absent (as when the source records none).
    client, plan = record.client_key, record.subscription_key
    if plan is not None and not principal.may_see_subscription(plan, client):
        record = replace(record, subscription_key=None)
    if client is not None and not principal.may_see_client(client):
        record = replace(record, client_key=None)
    context.loaders.remember_invoices([record])
    return Invoice(key=record.key, record=record)


def invoice_by_key_field() -> Any:
    """The ``invoiceByKey`` field of the query root."""
    return strawberry.field(
        resolver=invoice_by_key,
        name=FIELD,
        description=(
            "One Tight invoice by its client invoice key (from the link sent to the "
            "client); needs no token. Null when the key opens no invoice."
        ),
    )


def _keys_of(
    document: str, operation_name: str | None, variables: Mapping[str, Any] | None
) -> set[str] | None:
    """The keys an operation asks for when all it asks for is ``invoiceByKey``."""
    try:
        parsed = parse(document, no_location=True, max_tokens=_MAX_TOKENS)
    except GraphQLError:
        return None
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        return None
    keys: set[str] = set()
    for selection in operations[0].selection_set.selections:
        if not isinstance(selection, FieldNode):
            return None
        if selection.name.value == "__typename":
            continue
        if selection.name.value != FIELD:
            return None
        for argument in selection.arguments or ():
            value: object = None
            if isinstance(argument.value, StringValueNode):
                value = argument.value.value
            elif isinstance(argument.value, VariableNode):
                value = (variables or {}).get(argument.value.name.value)
            if argument.name.value == "key" and isinstance(value, str):
                keys.add(value)
    return keys or None


def admit_by_invoice_keys(requests: Iterable[Any]) -> Principal:
    """The principal of an unauthenticated request that only reads invoices by their
    client invoice keys; ``Unauthenticated`` for any other request."""
    keys: set[str] = set()
    for request in requests:
        asked, query = None, getattr(request, "query", None)
        if isinstance(query, str):
            asked = _keys_of(query, request.operation_name, request.variables)
        if asked is None:
            raise Unauthenticated(AUTH_REQUIRED, invalid_token=False)
        keys |= asked
    if not keys:
        raise Unauthenticated(AUTH_REQUIRED, invalid_token=False)
    return Principal.invoice_key_holder(keys)
