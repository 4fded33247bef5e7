"""What every resolver can reach: the request's loaders, the connectors, settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..connectors.base import Connector
from ..domain import Source
from ..idempotency import IdempotencyStore
from ..loaders import Loaders
from ..settings import Settings


@dataclass(slots=True)
class Context:
    """Created once per GraphQL request."""

    settings: Settings
    connectors: Mapping[Source, Connector]
    loaders: Loaders
    idempotency: IdempotencyStore
    # Whose idempotency keys these are (one caller's keys never answer another's).
    scope: str = "anonymous"
    request: Any = None
    response: Any = None
