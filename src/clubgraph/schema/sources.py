"""`Query.sources`: each source, whether it is reachable here, what it can do, and how its
calls are faring (its circuit breaker)."""

from __future__ import annotations

import strawberry

from .. import domain
from ..commands import Capability
from ..resilience import BreakerState, CircuitBreaker, current_breakers
from .enums import Source
from .node import Ctx

strawberry.enum(
    BreakerState,
    name="BreakerState",
    description=(
        "A source's circuit breaker. CLOSED: calls go through. OPEN: after failures in a "
        "row, calls fail at once (UPSTREAM_UNAVAILABLE) without reaching the source. "
        "HALF_OPEN: the wait is over; the next call probes the source and closes the "
        "breaker when it succeeds, or opens it again."
    ),
)

_NAMES = {
    domain.Source.FITNESSFORCE: "FitnessForce UFP",
    domain.Source.TIMETAP: "TimeTap",
    domain.Source.CLUBCOLLECT: "ClubCollect",
    domain.Source.TIGHT: "Tight",
}


@strawberry.type(description="One upstream billing platform and what this server can do with it.")
class SourceInfo:
    source: Source = strawberry.field(description="Which platform.")
    name: str = strawberry.field(description="Its name, for display.")
    configured: bool = strawberry.field(description="True when this server reaches it.")
    capabilities: list[Capability] = strawberry.field(
        description="The writes it supports; a UI can hide the rest. Empty when not configured."
    )
    healthy: bool = strawberry.field(
        description="True when configured and its circuit breaker lets calls through (not OPEN)."
    )
    breaker_state: BreakerState = strawberry.field(
        description="Its circuit breaker's state (CLOSED when not configured)."
    )
    recent_error_rate: float = strawberry.field(
        description=(
            "The share of calls to it that failed over the last minute, from 0 to 1 "
            "(connection errors, timeouts, 5xx and 429; not other 4xx answers)."
        )
    )

    @strawberry.field(description="The tenants, businesses or companies reached (configured only).")
    async def tenant_ids(self, info: Ctx) -> list[str]:
        connector = info.context.connectors.get(self.source)
        if connector is None:
            return []
        principal = info.context.principal
        return [t for t in await connector.tenants() if principal.may_see_tenant(self.source, t)]


def sources(info: Ctx) -> list[SourceInfo]:
    """Every source, configured or not, in a stable order."""
    breakers = current_breakers.get()
    out = []
    for source in domain.Source:
        connector = info.context.connectors.get(source)
        caps = [] if connector is None else [c for c in Capability if c in connector.capabilities]
        breaker = None if breakers is None or connector is None else breakers.find(source.value)
        state = BreakerState.CLOSED if breaker is None else breaker.state
        out.append(
            SourceInfo(
                source=source,
                name=_NAMES[source],
                configured=connector is not None,
                capabilities=caps,
                healthy=connector is not None and state is not BreakerState.OPEN,
                breaker_state=state,
                recent_error_rate=_error_rate(breaker),
            )
        )
    return out


def _error_rate(breaker: CircuitBreaker | None) -> float:
    return 0.0 if breaker is None else breaker.recent_error_rate
