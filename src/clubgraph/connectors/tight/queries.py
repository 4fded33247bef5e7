"""Tight list queries: what a filter and an order push to the upstream, and what is left.

Every parameter here is inferred (the v5 reference documents none of the list's
parameters); the sandbox serves the same ones. A filter the upstream applies exactly
is not checked again, so the upstream's ``totalCount`` stays the stream's total;
anything it applies only approximately is checked again with the shared predicate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Generic, TypeVar

from ...domain import ClientRecord, InvoiceRecord, SubscriptionRecord
from ..base import (
    ClientFilter,
    InvoiceFilter,
    InvoiceOrder,
    InvoiceSortField,
    SortDirection,
    SubscriptionFilter,
    client_matches,
    invoice_matches,
    normalize_email,
    subscription_matches,
)
from . import mapping

R = TypeVar("R")
E = TypeVar("E", bound=Enum)

Params = dict[str, str | int]

SORT_PARAM = {
    InvoiceSortField.ISSUED_AT: "date",
    InvoiceSortField.DUE_AT: "dueDate",
    InvoiceSortField.TOTAL: "totalAmount",
    # The upstream orders invoice numbers as the text shown ("TFS-1001"), which is
    # the number string the merge compares (``invoice_sort_value``).
    InvoiceSortField.NUMBER: "invoiceNo",
}


@dataclass(frozen=True, slots=True)
class ListQuery(Generic[R]):
    """Parameters for the upstream list, and the local check of what they leave out."""

    params: Params
    keep: Callable[[R], bool] | None = None


def invoice_query(flt: InvoiceFilter, order: InvoiceOrder) -> ListQuery[InvoiceRecord] | None:
    """The invoice list in ``order`` under ``flt``; None when no invoice can match."""
    params: Params = {"sort": SORT_PARAM[order.field], "sortDirection": order.direction.value}
    statuses = upstream_statuses(flt.statuses, mapping.UPSTREAM_INVOICE_STATUS)
    if statuses == ():
        return None
    exact = True
    if statuses:
        params["status"] = ",".join(statuses)
        exact = _exact(flt.statuses, statuses, mapping.UPSTREAM_INVOICE_STATUS)
    elif flt.statuses:
        exact = False  # UNKNOWN is wanted: every invoice is read, and its status checked
    # Tight filters whole days: ask for every day the range touches, and cut the
    # range's ends to the instant locally.
    for low, high, start, until in (
        ("startDate", "endDate", flt.issued_from, flt.issued_until),
        ("dueStartDate", "dueEndDate", flt.due_from, flt.due_until),
    ):
        if start is not None:
            params[low] = utc_day(start).isoformat()
            exact = False
        if until is not None:
            params[high] = utc_day(until).isoformat()
            exact = False
    if flt.with_balance_due:
        # The balance is Tight's own ``balance``, which the record carries as is.
        params["hasBalance"] = "true"
    if exact:
        return ListQuery(params)
    return ListQuery(params, lambda record: invoice_matches(record, flt))


def client_query(flt: ClientFilter, direction: SortDirection) -> ListQuery[ClientRecord]:
    """The client list by name in ``direction`` under ``flt``."""
    params: Params = {"sort": "name", "sortDirection": direction.value}
    search = (flt.search or "").strip()
    if search:
        params["search"] = search
    if flt.email is not None:
        email = normalize_email(flt.email)
        if email is None:
            # A blank email selects the clients without one, which no parameter can ask.
            return ListQuery(params, lambda record: client_matches(record, flt))
        params["email"] = email
    return ListQuery(params)


def subscription_query(
    flt: SubscriptionFilter, direction: SortDirection
) -> ListQuery[SubscriptionRecord] | None:
    """Recurring parents by start date in ``direction``; None when none can match."""
    params: Params = {
        "isRecurringParent": "true",
        "sort": "date",
        "sortDirection": direction.value,
    }
    statuses = upstream_statuses(flt.statuses, mapping.UPSTREAM_SUBSCRIPTION_STATUS)
    if statuses == ():
        return None
    if statuses:
        params["status"] = ",".join(statuses)

    def keep(record: SubscriptionRecord) -> bool:
        # A recurring parent that bills once is no plan (``mapping.is_subscription``).
        return mapping.is_subscription(record.raw) and subscription_matches(record, flt)

    return ListQuery(params, keep)


def upstream_statuses(
    wanted: frozenset[E], table: Mapping[E, tuple[str, ...]]
) -> tuple[str, ...] | None:
    """Tight statuses to ask for; None to ask for all, () when nothing can match."""
    if not wanted or any(s.value == "UNKNOWN" for s in wanted):
        return None
    return tuple(sorted({u for s in wanted for u in table.get(s, ())}))


def _exact(
    wanted: frozenset[E], asked: tuple[str, ...], table: Mapping[E, tuple[str, ...]]
) -> bool:
    """Whether every invoice of the asked Tight statuses has a wanted status."""
    return all(s in wanted for s, upstream in table.items() if set(upstream) & set(asked))


def utc_day(instant: datetime) -> date:
    """The UTC day an instant falls on (Tight's dates are days, read as UTC midnight)."""
    aware = instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
    return aware.astimezone(UTC).date()
