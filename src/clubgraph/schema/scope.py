"""Who sees what, in the lists: the caller's tenants narrow every list to what it may see.

Reads by key are checked in the loaders (``Loaders.principal``): a record outside the
caller's scope loads as absent, so an ID from outside answers exactly as one that does
not exist. Lists are narrowed here, before any upstream call: a staff user's list
streams are those of its tenants only, and a member's lists are built from its own
clients' records.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from .. import domain
from ..connectors.base import Connector, Stream
from ..identity import Principal

F = TypeVar("F")


def scoped_streams(
    principal: Principal,
    connectors: Sequence[Connector],
    flt: F,
    open_streams: Callable[[Connector, F], Awaitable[Sequence[Stream[Any]]]],
) -> list[Awaitable[Sequence[Stream[Any]]]]:
    """The stream calls of a list over ``connectors``, one per tenant the caller sees
    where it does not see a source whole (``flt`` has a ``tenant`` field)."""
    calls: list[Awaitable[Sequence[Stream[Any]]]] = []
    for connector in connectors:
        tenants = principal.tenants_of(connector.source)
        if tenants is None:
            calls.append(open_streams(connector, flt))
            continue
        wanted: str | None = getattr(flt, "tenant", None)
        for tenant in sorted(tenants):
            if wanted is None or wanted == tenant:
                calls.append(open_streams(connector, replace(flt, tenant=tenant)))  # type: ignore[type-var]
    return calls


def may_write_to(principal: Principal, source: domain.Source, tenant: str | None) -> bool:
    """Whether the caller may write in this tenant (None: the source picks one, which
    only a caller who sees the whole source may leave to it)."""
    if principal.is_member:
        return False
    tenants = principal.tenants_of(source)
    return tenants is None or (tenant is not None and tenant in tenants)
