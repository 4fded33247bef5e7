"""Which parts of a list filter the UFP lists apply, as query parameters.

Each function returns the parameters to send and whether they select exactly the
records the shared predicate selects; when they do not, the connector applies the
predicate to what comes back (the parameters then only narrow the read).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from ...domain import InvoiceStatus, SubscriptionStatus
from ..base import ClientFilter, InvoiceFilter, SubscriptionFilter, normalize_email
from .mapping import INVOICE_STATUS, SUBSCRIPTION_STATUS

Params = dict[str, str]
DAY = timedelta(days=1)


def raw_statuses(wanted: Iterable[Enum], table: Mapping[str, Enum]) -> list[str]:
    """The upstream status values that map to any of ``wanted``."""
    wanted = set(wanted)
    return sorted(raw for raw, unified in table.items() if unified in wanted)


def invoice_params(flt: InvoiceFilter, zone: ZoneInfo | None) -> tuple[Params, bool]:
    """Invoice list parameters for ``flt``; ``zone`` is the tenant's, when known."""
    params: Params = {}
    exact = True
    if flt.statuses:
        if InvoiceStatus.UNKNOWN in flt.statuses:
            # Statuses the upstream does not name cannot be asked for.
            exact = False
        else:
            params["status"] = ",".join(raw_statuses(flt.statuses, INVOICE_STATUS))
    # inferred: from_date/to_date take the tenant-local invoice date, both inclusive, so
    # an instant bound is exact only at a local midnight; otherwise the day is widened.
    if flt.issued_from is not None:
        day, midnight = _local_day(flt.issued_from, zone, -1)
        params["from_date"] = day.isoformat()
        exact = exact and midnight
    if flt.issued_until is not None:
        day, midnight = _local_day(flt.issued_until, zone, +1)
        params["to_date"] = (day - DAY if midnight else day).isoformat()
        exact = exact and midnight
    # inferred: due_from_date/due_to_date, inclusive. A due date maps to midnight UTC
    # (mapping.parse_datetime), so every instant bound has an exact date equivalent.
    if flt.due_from is not None:
        day, midnight = _utc_day(flt.due_from)
        params["due_from_date"] = (day if midnight else day + DAY).isoformat()
    if flt.due_until is not None:
        day, midnight = _utc_day(flt.due_until)
        params["due_to_date"] = (day - DAY if midnight else day).isoformat()
    if flt.with_balance_due:
        params["outstanding_only"] = "true"  # inferred: balance above zero
    return params, exact


def subscription_params(flt: SubscriptionFilter) -> tuple[Params, bool]:
    if not flt.statuses:
        return {}, True
    if SubscriptionStatus.UNKNOWN in flt.statuses:
        return {}, False
    return {"status": ",".join(raw_statuses(flt.statuses, SUBSCRIPTION_STATUS))}, True


def client_search_params(flt: ClientFilter) -> tuple[Params, bool]:
    """Client search parameters (empty: no search, read the plain list)."""
    params: Params = {}
    exact = True
    # A blank search matches every client: nothing to ask for.
    text = (flt.search or "").strip()
    if text:
        params["search_text"] = text
    if flt.email is not None:
        email = normalize_email(flt.email)
        if email is None:
            # A blank email selects the clients without one, which no parameter asks for.
            exact = False
        else:
            params["email"] = email
    return params, exact


def _local_day(moment: datetime, zone: ZoneInfo | None, widen: int) -> tuple[date, bool]:
    """The tenant-local date of ``moment`` and whether ``moment`` is its midnight.

    Without the tenant's zone, the UTC date moved a day outwards (``widen``): every
    offset is under a day, so the range still covers every local date it must.
    """
    if zone is None:
        return moment.astimezone(UTC).date() + widen * DAY, False
    local = moment.astimezone(zone)
    return local.date(), local.time() == time()


def _utc_day(moment: datetime) -> tuple[date, bool]:
    utc = moment.astimezone(UTC)
    return utc.date(), utc.time() == time()
