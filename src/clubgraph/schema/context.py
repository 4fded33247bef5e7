"""What every resolver can reach: the request's loaders, the connectors, settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..cache import Cache
from ..connectors.base import Connector
from ..domain import Source
from ..events.hub import EventHub
from ..idempotency import IdempotencyStore
from ..identity import DEMO_STAFF, Principal
from ..loaders import Loaders
from ..settings import Settings


@dataclass(slots=True)
class Context:
    """Created once per GraphQL request."""

    settings: Settings
    connectors: Mapping[Source, Connector]
    loaders: Loaders
    idempotency: IdempotencyStore
    # Whose idempotency keys and cached records these are (one caller's never answer
    # another's). Set it when creating the Context: the loaders take it from here.
    scope: str = "anonymous"
    # The shared cache (None when off); the loaders read and write it in ``scope``.
    cache: Cache | None = None
    request: Any = None
    response: Any = None
    # Who is calling (``identity.py``); the app sets ``scope`` to ``principal.scope``.
    principal: Principal = DEMO_STAFF
    # A WebSocket connection's connection_init payload (graphql-transport-ws).
    connection_params: dict[str, Any] | None = None
    # Announced changes, for subscriptions (None: the app is not running them).
    events: EventHub | None = None

    def __post_init__(self) -> None:
        self.loaders.scope = self.scope
        self.loaders.principal = self.principal

    def act_as(self, principal: Principal) -> None:
        """Make ``principal`` the caller, with its scope."""
        self.principal = self.loaders.principal = principal
        self.scope = self.loaders.scope = principal.scope
