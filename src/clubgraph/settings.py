"""Settings, read once from the environment, cast, and loud when invalid."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from .domain import Source

# Megabytes of upstream list rows kept to be found again (connectors/rows.py).
DEFAULT_ROW_MEMO_MB = 16

URL_VARS: dict[Source, str] = {
    Source.FITNESSFORCE: "CLUBGRAPH_FITNESSFORCE_URL",
    Source.TIMETAP: "CLUBGRAPH_TIMETAP_URL",
    Source.CLUBCOLLECT: "CLUBGRAPH_CLUBCOLLECT_URL",
    Source.TIGHT: "CLUBGRAPH_TIGHT_URL",
}

# Where the ClubCollect invoice index lives when the environment does not say.
DEFAULT_CLUBCOLLECT_INDEX = ".clubgraph/clubcollect-index.sqlite3"
DEFAULT_STATE_DB = ".clubgraph/state.sqlite3"

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SettingsError(ValueError):
    """Settings that are missing or invalid: one message per problem."""

    def __init__(self, *problems: str) -> None:
        super().__init__(*problems)
        self.problems = problems

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return self.problems[0]
        return f"{len(self.problems)} problems:\n" + "\n".join(f"  - {p}" for p in self.problems)


PREFIX = "CLUBGRAPH_"


def read_config_file(path: str) -> dict[str, str]:
    """A TOML settings file as the variables it stands for: ``max_depth = 20`` is
    ``CLUBGRAPH_MAX_DEPTH=20``, a table ``[fitnessforce]`` with ``url = ...`` is
    ``CLUBGRAPH_FITNESSFORCE_URL``; lists are comma-separated, booleans 1 or 0."""
    import tomllib

    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise SettingsError(f"CLUBGRAPH_CONFIG={path!r} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"CLUBGRAPH_CONFIG={path!r} is not valid TOML: {exc}") from None
    out: dict[str, str] = {}

    def walk(table: Mapping[str, Any], prefix: str) -> None:
        for key, value in table.items():
            name = f"{prefix}{key}".upper().replace("-", "_")
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}_")
            elif isinstance(value, bool):
                out[PREFIX + name] = "1" if value else "0"
            elif isinstance(value, list):
                out[PREFIX + name] = ",".join(str(v) for v in value)
            else:
                out[PREFIX + name] = str(value)

    walk(data, "")
    return out


class _Checked(dict[str, str]):
    """The variables being read (environment over file), the names read, and every
    problem found: all of them are reported at once, not the first alone."""

    def __init__(self, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.errors: list[str] = []
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)


def _fail(env: Mapping[str, str], message: str, default: T) -> T:
    """Raise ``message``, or note it and go on with ``default`` while checking."""
    if isinstance(env, _Checked):
        env.errors.append(message)
        return default
    raise SettingsError(message)


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None:
        return default
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    return _fail(env, f"{name}={value!r} is not a boolean (use 1/0, true/false)", default)


def _float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    value = env.get(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        return _fail(env, f"{name}={value!r} is not a number", default)
    if not number >= minimum:  # also refuses NaN
        return _fail(env, f"{name}={number} must be >= {minimum}", default)
    return number


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    value = env.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        return _fail(env, f"{name}={value!r} is not an integer", default)
    if number < minimum:
        return _fail(env, f"{name}={number} must be >= {minimum}", default)
    return number


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = env.get(name, "").strip().lower()
    if not value:
        return None
    if value not in allowed:
        return _fail(env, f"{name}={value!r} is not one of {', '.join(allowed)}", None)
    return value


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    """An http(s) URL."""
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.startswith(("http://", "https://")):
        return _fail(env, f"{name}={value!r} must be an http(s) URL", default)
    return value


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list (blanks dropped)."""
    return tuple(p.strip() for p in env.get(name, "").split(",") if p.strip())


DEFAULT_CACHE_TTLS: tuple[tuple[str, float], ...] = (
    ("reference", 300.0),
    ("client", 60.0),
    ("invoice", 30.0),
    ("subscription", 60.0),
)


def _database_url(env: Mapping[str, str], name: str) -> str | None:
    url = env.get(name, "").strip()
    if url and not url.startswith(("postgresql://", "postgres://")):
        return _fail(env, f"{name} must be a postgresql:// URL", None)
    return url or None


def _ttls(
    env: Mapping[str, str], name: str, default: tuple[tuple[str, float], ...]
) -> tuple[tuple[str, float], ...]:
    """``kind=seconds,...`` over the defaults; an unknown kind is an error."""
    value = env.get(name, "").strip()
    ttls = dict(default)
    for part in filter(None, (p.strip() for p in value.split(","))):
        kind, sep, seconds = part.partition("=")
        kind = kind.strip()
        if not sep or kind not in ttls:
            return _fail(env, f"{name}: {part!r} is not one of {sorted(ttls)}=<seconds>", default)
        try:
            number = float(seconds)
        except ValueError:
            return _fail(env, f"{name}: {part!r} has no number of seconds", default)
        if not number >= 0:
            return _fail(env, f"{name}: {part!r} must not be negative", default)
        ttls[kind] = number
    return tuple(ttls.items())


@dataclass(frozen=True, slots=True)
class SourceSettings:
    """Where one upstream lives and how to authenticate (None: development credentials)."""

    source: Source
    url: str
    credentials: Any | None
    # Per-source overrides of Settings.connect_timeout_s / read_timeout_s (None: those).
    connect_timeout_s: float | None = None
    read_timeout_s: float | None = None


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
    # SQLite file of the ClubCollect invoice index (with database_url, the index is in
    # PostgreSQL instead); settings built in code (tests) keep it in memory, ``from_env``
    # defaults to DEFAULT_CLUBCOLLECT_INDEX.
    clubcollect_index: str = ":memory:"
    # The idempotency keys of mutations and the webhook journal; a file survives restarts.
    state_db: str = ":memory:"
    # PostgreSQL (postgresql://...) for the keys and the journal instead, shared by replicas.
    database_url: str | None = None
    # --- calls to upstreams ---
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    # Every upstream call made for one GraphQL request ends by this deadline.
    request_deadline_s: float = 30.0
    # Retries of idempotent calls (reads), with exponential backoff and jitter.
    retries: int = 2
    retry_backoff_s: float = 0.1
    # The longest wait before a retry, Retry-After included (longer: no retry).
    retry_max_delay_s: float = 2.0
    # Circuit breaker per source: opens after this many failures in a row, probes
    # again (half-open) after breaker_reset_s.
    breaker_failures: int = 5
    breaker_reset_s: float = 30.0
    # --- shared cache (off unless enabled; Redis when redis_url is set) ---
    cache_enabled: bool = False
    redis_url: str | None = None
    # Seconds per cached kind: "reference" (plans, tenants, tax groups), "client",
    # "invoice", "subscription"; 0 disables that kind.
    cache_ttls: tuple[tuple[str, float], ...] = DEFAULT_CACHE_TTLS
    # --- who may see what ---
    # "sandbox": introspection, suggestions and GraphiQL on, anonymous callers act as a
    # demo staff user over every tenant (unless require_auth). "production": all off,
    # every request authenticated. None: sandbox when the embedded sandbox runs.
    mode: str | None = None
    require_auth: bool = False
    jwt_secret: str | None = None  # HS256
    jwt_public_keys: tuple[str, ...] = ()  # PEM files (RS256/ES256)
    jwks_file: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    # --- query and request safety ---
    max_depth: int = 15
    max_aliases: int = 30
    max_tokens: int = 5000
    # Estimated upstream work of one operation (upstream calls x page sizes).
    max_cost: int = 50_000
    max_body_bytes: int = 1_048_576
    max_batch: int = 10
    # Row text of upstream lists kept to be found again, with what was decoded and mapped
    # from it (connectors/rows.py); 0 keeps none.
    row_memo_bytes: int = DEFAULT_ROW_MEMO_MB * 1024 * 1024
    cors_origins: tuple[str, ...] = ()
    # Requests per minute per identity (0: no limit).
    rate_limit_per_minute: int = 0
    # A persisted query manifest: only its operations run (trusted documents).
    trusted_documents: str | None = None
    # --- live billing: webhooks in, polling, subscriptions out ---
    # Secrets that verify each pushing source's webhooks (several: rotation). None set
    # for a source on development credentials: the sandbox's development secret.
    fitnessforce_webhook_secrets: tuple[str, ...] = ()
    clubcollect_webhook_secrets: tuple[str, ...] = ()
    # How far a webhook's signed timestamp may be from the server's clock.
    webhook_tolerance_s: float = 300.0
    # Seconds between two polls of the sources without webhooks (TimeTap, Tight); 0: off
    # (settings built in code, as tests do; ``from_env`` defaults to 30).
    poll_interval_s: float = 0.0
    # Where the sandbox (embedded) posts its webhooks: this server's own base URL.
    webhook_base_url: str | None = None
    # --- observability (observability/) ---
    # Traces: "none" (off: no span is made), "console", or "otlp" (OTLP over HTTP to
    # otel_endpoint), under the service name otel_service_name.
    otel_exporter: str = "none"
    otel_endpoint: str = "http://localhost:4318/v1/traces"
    otel_service_name: str = "clubgraph"
    # GET /metrics in the Prometheus text format (for the scraper, not the public).
    metrics_enabled: bool = True
    # Log lines as "text" (the format the process set) or "json" (one object a line).
    log_format: str = "text"

    @property
    def embedded_sandbox(self) -> bool:
        """No upstream configured: the server runs the sandbox itself."""
        return not self.sources

    @property
    def sandbox_mode(self) -> bool:
        """Introspection, suggestions, GraphiQL and the anonymous demo user are on."""
        return self.mode == "sandbox" if self.mode is not None else self.embedded_sandbox

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings of the environment, over those of the TOML file that
        ``CLUBGRAPH_CONFIG`` names, if any. ``SettingsError`` lists every value that is
        invalid (and every key of the file that is not a setting), not just the first."""
        environment = os.environ if env is None else env
        path = environment.get("CLUBGRAPH_CONFIG", "").strip()
        problems: list[str] = []
        from_file: dict[str, str] = {}
        if path:
            try:
                from_file = read_config_file(path)
            except SettingsError as exc:
                problems.append(str(exc))
        checked = _Checked({**from_file, **environment})
        settings = cls._read(checked)
        problems += checked.errors
        problems += [
            f"{path}: {name.removeprefix(PREFIX).lower()} is not a setting"
            for name in sorted(set(from_file) - checked.read)
        ]
        if problems:
            raise SettingsError(*problems)
        return settings

    @classmethod
    def _read(cls, env: _Checked) -> Settings:
        from .upstreams import credentials_from_env

        # The process's own settings, which ``clubgraph serve`` reads: checked here too.
        env.get("CLUBGRAPH_HOST")
        _int(env, "CLUBGRAPH_PORT", 8000, 1)
        _int(env, "CLUBGRAPH_WORKERS", 1, 1)
        _float(env, "CLUBGRAPH_SHUTDOWN_TIMEOUT", 30.0)

        sources: list[SourceSettings] = []
        for source, var in URL_VARS.items():
            url = env.get(var, "").strip()
            if not url:
                continue
            if not url.startswith(("http://", "https://")):
                _fail(env, f"{var}={url!r} must be an http(s) URL", None)
                continue
            try:
                credentials = credentials_from_env(source, env)
            except ValueError as exc:
                _fail(env, str(exc), None)
                credentials = None
            sources.append(SourceSettings(source, url, credentials))
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
            database_url=_database_url(env, "CLUBGRAPH_DATABASE_URL"),
            clubcollect_index=env.get("CLUBGRAPH_CLUBCOLLECT_INDEX", "").strip()
            or DEFAULT_CLUBCOLLECT_INDEX,
            connect_timeout_s=_float(env, "CLUBGRAPH_UPSTREAM_CONNECT_TIMEOUT", 5.0, 0.001),
            read_timeout_s=_float(env, "CLUBGRAPH_UPSTREAM_READ_TIMEOUT", 30.0, 0.001),
            request_deadline_s=_float(env, "CLUBGRAPH_REQUEST_DEADLINE", 30.0, 0.001),
            retries=_int(env, "CLUBGRAPH_UPSTREAM_RETRIES", 2),
            retry_backoff_s=_float(env, "CLUBGRAPH_RETRY_BACKOFF", 0.1),
            retry_max_delay_s=_float(env, "CLUBGRAPH_RETRY_MAX_DELAY", 2.0),
            breaker_failures=_int(env, "CLUBGRAPH_BREAKER_FAILURES", 5, 1),
            breaker_reset_s=_float(env, "CLUBGRAPH_BREAKER_RESET", 30.0, 0.001),
            cache_enabled=_bool(env, "CLUBGRAPH_CACHE", False),
            redis_url=env.get("CLUBGRAPH_REDIS_URL", "").strip() or None,
            cache_ttls=_ttls(env, "CLUBGRAPH_CACHE_TTLS", DEFAULT_CACHE_TTLS),
            mode=_choice(env, "CLUBGRAPH_MODE", ("sandbox", "production")),
            require_auth=_bool(env, "CLUBGRAPH_REQUIRE_AUTH", False),
            jwt_secret=env.get("CLUBGRAPH_JWT_SECRET") or None,
            jwt_public_keys=_list(env, "CLUBGRAPH_JWT_PUBLIC_KEYS"),
            jwks_file=env.get("CLUBGRAPH_JWKS_FILE", "").strip() or None,
            jwt_issuer=env.get("CLUBGRAPH_JWT_ISSUER", "").strip() or None,
            jwt_audience=env.get("CLUBGRAPH_JWT_AUDIENCE", "").strip() or None,
            max_depth=_int(env, "CLUBGRAPH_MAX_DEPTH", 15, 1),
            max_aliases=_int(env, "CLUBGRAPH_MAX_ALIASES", 30, 1),
            max_tokens=_int(env, "CLUBGRAPH_MAX_TOKENS", 5000, 1),
            max_cost=_int(env, "CLUBGRAPH_MAX_COST", 50_000, 1),
            max_body_bytes=_int(env, "CLUBGRAPH_MAX_BODY_BYTES", 1_048_576, 1),
            row_memo_bytes=_int(env, "CLUBGRAPH_ROW_MEMO_MB", DEFAULT_ROW_MEMO_MB) * 1024 * 1024,
            max_batch=_int(env, "CLUBGRAPH_MAX_BATCH", 10, 1),
            cors_origins=_list(env, "CLUBGRAPH_CORS_ORIGINS"),
            rate_limit_per_minute=_int(env, "CLUBGRAPH_RATE_LIMIT_PER_MINUTE", 0),
            trusted_documents=env.get("CLUBGRAPH_TRUSTED_DOCUMENTS", "").strip() or None,
            fitnessforce_webhook_secrets=_list(env, "CLUBGRAPH_FITNESSFORCE_WEBHOOK_SECRET"),
            clubcollect_webhook_secrets=_list(env, "CLUBGRAPH_CLUBCOLLECT_WEBHOOK_SECRET"),
            webhook_tolerance_s=_float(env, "CLUBGRAPH_WEBHOOK_TOLERANCE", 300.0, 1.0),
            poll_interval_s=_float(env, "CLUBGRAPH_POLL_INTERVAL", 30.0),
            webhook_base_url=env.get("CLUBGRAPH_WEBHOOK_BASE_URL", "").strip() or None,
            # --- observability ---
            otel_exporter=_choice(env, "CLUBGRAPH_OTEL_EXPORTER", ("none", "console", "otlp"))
            or "none",
            otel_endpoint=_url(env, "CLUBGRAPH_OTEL_ENDPOINT", "http://localhost:4318/v1/traces"),
            otel_service_name=env.get("CLUBGRAPH_OTEL_SERVICE_NAME", "").strip() or "clubgraph",
            metrics_enabled=_bool(env, "CLUBGRAPH_METRICS", True),
            log_format=_choice(env, "CLUBGRAPH_LOG_FORMAT", ("text", "json")) or "text",
        )


# Settings whose values are secrets: shown as set or not, never as they are.
_SECRET_FIELDS = ("jwt_secret", "fitnessforce_webhook_secrets", "clubcollect_webhook_secrets")


def _redact_url(url: str) -> str:
    """A URL without the password it may carry (``redis://:pw@host`` -> ``redis://:***@host``)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def describe(settings: Settings) -> list[tuple[str, str]]:
    """Every setting with its effective value, secrets redacted (``clubgraph config check``)."""
    from dataclasses import fields

    rows: list[tuple[str, str]] = []
    for spec in fields(settings):
        value = getattr(settings, spec.name)
        if spec.name == "sources":
            if not value:
                rows.append(("sources", "none: the embedded sandbox"))
            for source in value:
                how = "configured credentials" if source.credentials else "development credentials"
                rows.append((f"{source.source.value}", f"{_redact_url(source.url)} ({how})"))
            continue
        if spec.name in _SECRET_FIELDS:
            shown = "*** (set)" if value else "(not set)"
        elif spec.name in ("redis_url", "database_url") and value:
            shown = _redact_url(value)
        elif isinstance(value, tuple):
            shown = ", ".join(
                "=".join(map(str, v)) if isinstance(v, tuple) else str(v) for v in value
            )
            shown = shown or "(none)"
        elif spec.name == "mode":
            effective = "sandbox" if settings.sandbox_mode else "production"
            shown = f"{value or 'automatic'} (effective: {effective})"
        else:
            shown = "(not set)" if value is None else str(value)
        rows.append((spec.name, shown))
    return rows
