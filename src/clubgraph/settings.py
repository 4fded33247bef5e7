"""Settings, read once from the environment, cast, and loud when invalid."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .domain import Source

URL_VARS: dict[Source, str] = {
    Source.FITNESSFORCE: "CLUBGRAPH_FITNESSFORCE_URL",
    Source.TIMETAP: "CLUBGRAPH_TIMETAP_URL",
    Source.CLUBCOLLECT: "CLUBGRAPH_CLUBCOLLECT_URL",
    Source.TIGHT: "CLUBGRAPH_TIGHT_URL",
}

# Where the ClubCollect invoice index lives when the environment does not say.
DEFAULT_CLUBCOLLECT_INDEX = ".clubgraph/clubcollect-index.sqlite3"
DEFAULT_STATE_DB = ".clubgraph/state.sqlite3"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SettingsError(ValueError):
    """An environment variable is missing or invalid."""


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None:
        return default
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise SettingsError(f"{name}={value!r} is not a boolean (use 1/0, true/false)")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    value = env.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name}={value!r} is not an integer") from None
    if number < minimum:
        raise SettingsError(f"{name}={number} must be >= {minimum}")
    return number


@dataclass(frozen=True, slots=True)
class SourceSettings:
    """Where one upstream lives and how to authenticate (None: development credentials)."""

    source: Source
    url: str
    credentials: Any | None


@dataclass(frozen=True, slots=True)
class Settings:
    """The server's configuration."""

    sources: tuple[SourceSettings, ...] = ()
    trace_upstream: bool = False
    # Queries run on the compiled executor (schema/execution.py); off, on graphql-core's.
    compiled_execution: bool = True
    max_page_size: int = 100
    default_page_size: int = 50
    sandbox_latency_ms: int = 0
    sandbox_port_base: int | None = None
    sandbox_seed: int = 7
    # SQLite file of the ClubCollect invoice index; settings built in code (tests)
    # keep it in memory, ``from_env`` defaults to DEFAULT_CLUBCOLLECT_INDEX.
    clubcollect_index: str = ":memory:"
    # The idempotency keys of mutations; a file survives restarts.
    state_db: str = ":memory:"

    @property
    def embedded_sandbox(self) -> bool:
        """No upstream configured: the server runs the sandbox itself."""
        return not self.sources

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        from .upstreams import credentials_from_env

        env = os.environ if env is None else env
        sources: list[SourceSettings] = []
        for source, var in URL_VARS.items():
            url = env.get(var, "").strip()
            if not url:
                continue
            if not url.startswith(("http://", "https://")):
                raise SettingsError(f"{var}={url!r} must be an http(s) URL")
            sources.append(SourceSettings(source, url, credentials_from_env(source, env)))
        port_base = env.get("CLUBGRAPH_SANDBOX_PORT_BASE")
        max_page = _int(env, "CLUBGRAPH_MAX_PAGE_SIZE", 100, minimum=1)
        return cls(
            sources=tuple(sources),
            trace_upstream=_bool(env, "CLUBGRAPH_TRACE_UPSTREAM", False),
            compiled_execution=_bool(env, "CLUBGRAPH_COMPILED_EXECUTION", True),
            max_page_size=max_page,
            default_page_size=min(_int(env, "CLUBGRAPH_DEFAULT_PAGE_SIZE", 50, 1), max_page),
            sandbox_latency_ms=_int(env, "CLUBGRAPH_SANDBOX_LATENCY_MS", 0),
            sandbox_port_base=_int(env, "CLUBGRAPH_SANDBOX_PORT_BASE", 0) if port_base else None,
            sandbox_seed=_int(env, "CLUBGRAPH_SANDBOX_SEED", 7),
            state_db=env.get("CLUBGRAPH_STATE_DB", "").strip() or DEFAULT_STATE_DB,
            clubcollect_index=env.get("CLUBGRAPH_CLUBCOLLECT_INDEX", "").strip()
            or DEFAULT_CLUBCOLLECT_INDEX,
        )
