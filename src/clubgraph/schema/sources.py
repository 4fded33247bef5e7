"""`Query.sources`: each source, whether it is reachable here, and what it can do."""

from __future__ import annotations

import strawberry

from .. import domain
from ..commands import Capability
from .enums import Source
from .node import Ctx

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

    @strawberry.field(description="The tenants, businesses or companies reached (configured only).")
    async def tenant_ids(self, info: Ctx) -> list[str]:
        connector = info.context.connectors.get(self.source)
        return [] if connector is None else list(await connector.tenants())


def sources(info: Ctx) -> list[SourceInfo]:
    """Every source, configured or not, in a stable order."""
    out = []
    for source in domain.Source:
        connector = info.context.connectors.get(source)
        caps = [] if connector is None else [c for c in Capability if c in connector.capabilities]
        out.append(
            SourceInfo(
                source=source,
                name=_NAMES[source],
                configured=connector is not None,
                capabilities=caps,
            )
        )
    return out
