"""Building the four connectors from settings."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .connectors.base import Connector
from .connectors.clubcollect import DEV_CREDENTIALS as CLUBCOLLECT_DEV
from .connectors.clubcollect import ClubCollectConnector, ClubCollectCredentials
from .connectors.fitnessforce import DEV_CREDENTIALS as FITNESSFORCE_DEV
from .connectors.fitnessforce import FitnessForceConnector, FitnessForceCredentials
from .connectors.tight import DEV_CREDENTIALS as TIGHT_DEV
from .connectors.tight import TightConnector, TightCredentials
from .connectors.timetap import DEV_CREDENTIALS as TIMETAP_DEV
from .connectors.timetap import TimeTapConnector, TimeTapCredentials
from .domain import Source
from .resilience import CallPolicy, CircuitBreaker
from .settings import Settings, SourceSettings

if TYPE_CHECKING:
    from .observability import Telemetry

log = logging.getLogger("clubgraph")

_CONNECTORS: dict[Source, tuple[Any, Any, Any]] = {
    Source.FITNESSFORCE: (FitnessForceConnector, FitnessForceCredentials, FITNESSFORCE_DEV),
    Source.TIMETAP: (TimeTapConnector, TimeTapCredentials, TIMETAP_DEV),
    Source.CLUBCOLLECT: (ClubCollectConnector, ClubCollectCredentials, CLUBCOLLECT_DEV),
    Source.TIGHT: (TightConnector, TightCredentials, TIGHT_DEV),
}


def credentials_from_env(source: Source, env: Mapping[str, str]) -> Any | None:
    """The credentials for a source from its environment variables, if all are set."""
    return _CONNECTORS[source][1].from_env(env)


def build_connector(
    cfg: SourceSettings,
    *,
    warn_dev_credentials: bool = True,
    clubcollect_index: str = ":memory:",
    settings: Settings | None = None,
    breaker: CircuitBreaker | None = None,
    telemetry: Telemetry | None = None,
) -> Connector:
    """A connector for one configured source; development credentials when none are set.

    Its calls follow ``settings`` (timeouts, retries, breaker thresholds; the defaults
    when None), with the source's own timeouts where ``cfg`` has them. ``breaker`` is
    the source's breaker when the caller keeps it (the server does, to report on it);
    ``telemetry`` is told of every upstream call.
    """
    connector_cls, _, dev = _CONNECTORS[cfg.source]
    credentials = cfg.credentials
    if credentials is None and warn_dev_credentials:
        log.warning(
            "%s: %s is set without credentials; using the sandbox's development credentials",
            cfg.source.value,
            cfg.url,
        )
    if credentials is None:
        credentials = dev
    policy = CallPolicy.for_source(settings or Settings(), cfg, breaker, telemetry)
    # Each connector pages with its upstream's largest page unless told otherwise.
    if cfg.source is Source.CLUBCOLLECT:
        return ClubCollectConnector(
            cfg.url, credentials, index_path=clubcollect_index, policy=policy
        )
    connector: Connector = connector_cls(cfg.url, credentials, policy=policy)
    return connector
