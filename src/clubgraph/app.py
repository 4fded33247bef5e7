"""The ASGI application: app factory and the lifespan that owns upstream sessions."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal

import orjson
import strawberry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.unset import UNSET

from .cache import NAMESPACE, Cache, RedisBackend, open_cache
from .connectors.base import Connector
from .connectors.rows import MEMO
from .domain import Source
from .events.broker import RedisBroker, open_broker
from .events.hub import EventHub
from .events.journal import Journal
from .events.poller import Pollers
from .graphiql import GraphiQLPage
from .guard import STYLE_NONCE, Guard, RateLimiter, RedisRateLimiter, rate_limiter
from .idempotency import IdempotencyStore
from .identity import ANONYMOUS, Authenticator, Unauthenticated
from .loaders import Loaders
from .observability import Telemetry
from .observability.logs import RequestIds
from .observability.logs import install as install_logging
from .persisted import PersistedQueries, PersistedQueryError
from .resilience import Breakers, BreakerState, current_breakers, set_deadline
from .sandbox.runner import RunningSandbox, start_sandbox
from .schema import build_schema
from .schema.context import Context
from .schema.invoice_key import admit_by_invoice_keys
from .settings import Settings, SourceSettings
from .shutdown import drain_on_signals
from .storage import open_storage
from .upstreams import build_connector
from .webhooks import webhook_routes

log = logging.getLogger("clubgraph")


@dataclass(slots=True)
class AppState:
    """What the lifespan opens and every request uses."""

    settings: Settings
    connectors: dict[Source, Connector] = field(default_factory=dict)
    sandbox: RunningSandbox | None = None
    idempotency: IdempotencyStore = field(default_factory=IdempotencyStore)
    # One circuit breaker per configured source, for the life of the process.
    breakers: Breakers = field(default_factory=Breakers)
    # The shared cache (None unless settings.cache_enabled) and the prefix of its keys.
    cache: Cache | None = None
    cache_namespace: str = NAMESPACE
    # Announced changes: the webhook journal, the broker, subscribers (None until open).
    events: EventHub | None = None
    pollers: Pollers | None = None
    # The guard's rate limiter (None: no limit), made here so that readiness can see it.
    rate_limiter: RateLimiter | None = None
    # Traces, metrics (observability/); create_app sets the settings' own.
    telemetry: Telemetry = field(default_factory=Telemetry)


def _raw_number(value: object) -> object:
    """Re-emit an upstream number kept exact in ``raw`` as a JSON number.

    Money fields never reach this (their scalar serialises them as decimal strings);
    only numbers inside ``raw`` do, and a JSON number is what the upstream sent.
    """
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class _TextFrames(ASGIWebSocketAdapter):
    """WebSocket messages as text frames: graphql-transport-ws clients read JSON text,
    and the view's encoder gives bytes."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        encoded = self.view.encode_json(message)
        text = encoded.decode() if isinstance(encoded, bytes) else encoded
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context and orjson encoding."""

    websocket_adapter_class = _TextFrames  # type: ignore[assignment]

    def __init__(self, schema: strawberry.Schema, state: AppState) -> None:
        # GraphiQL in sandbox mode only (Settings.sandbox_mode).
        ide: Literal["graphiql"] | None = "graphiql" if state.settings.sandbox_mode else None
        super().__init__(
            schema,
            graphql_ide=ide,
            allow_queries_via_get=True,
            # Subscriptions over graphql-transport-ws (and the older graphql-ws), and over
            # server-sent events for a client that asks for text/event-stream.
            subscription_protocols=(
                GRAPHQL_TRANSPORT_WS_PROTOCOL,
                GRAPHQL_WS_PROTOCOL,
                "graphql-sse",
            ),
            connection_init_wait_timeout=timedelta(seconds=10),
        )
        self.state = state
        # The GraphiQL page and its assets, served from the package (graphiql/).
        self.ide_page = GraphiQLPage() if ide else None
        self.auth = Authenticator.from_settings(state.settings)
        # Automatic persisted queries, or only the trusted documents of a manifest.
        manifest = state.settings.trusted_documents
        self.persisted = (
            PersistedQueries.from_manifest(manifest) if manifest else PersistedQueries()
        )

    @property
    def graphql_ide_html(self) -> str:
        return self.ide_page.html if self.ide_page else super().graphql_ide_html

    async def render_graphql_ide(self, request: Any) -> Response:
        if self.ide_page is None:
            return HTMLResponse(self.graphql_ide_html)
        # The policy the guard gives this response allows inline styles with this nonce.
        return HTMLResponse(self.ide_page.render(getattr(request.state, STYLE_NONCE, "")))

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET that names its document by hash (a persisted query) is an operation, not
        # a browser asking for GraphiQL.
        if request.query_params.get("extensions") is not None:
            return False
        return super().should_render_graphql_ide(request)

    async def parse_http_body(self, request: Any) -> Any:
        data = await super().parse_http_body(request)
        if isinstance(data, GraphQLRequestData):
            data.query = self.persisted.resolve(data.query, data.extensions)
        return data

    async def run(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(request, Request):
            _graphql_response.set(prefers_graphql_response(request.headers.get("accept")))
        # A request without usable credentials: 401, saying why (never quoting a token).
        try:
            return await super().run(request, *args, **kwargs)
        except PersistedQueryError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
        except Unauthenticated as exc:
            if isinstance(request, WebSocket):
                await request.close(4401, exc.message)
                return request
            headers = {"WWW-Authenticate": exc.challenge()}
            return JSONResponse(exc.body(), status_code=401, headers=headers)

    async def on_ws_connect(self, context: Context) -> Any:
        """A connection that came without an Authorization header is admitted by the
        token of its connection_init payload (``{"Authorization": "Bearer ..."}``), or
        closed (4403) without one (sandbox mode: admitted as the demo user)."""
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        # A token in the upgrade request's header decides; without one, the payload's
        # token does (in sandbox mode too, where no token at all means the demo user).
        in_request = context.request is not None and context.request.headers.get("authorization")
        if in_request or (context.principal is not ANONYMOUS and not isinstance(header, str)):
            return UNSET
        try:
            principal = self.auth.authenticate(header if isinstance(header, str) else None)
        except Unauthenticated as exc:
            raise ConnectionRejectionError({"message": exc.message}) from exc
        if principal is None:
            raise ConnectionRejectionError({"message": "authentication required"})
        context.act_as(principal)
        return UNSET

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        # Execution runs in this task and loader batches copy its context: every upstream
        # call made for this request sees its deadline. A WebSocket lives longer than any
        # request deadline: its calls are bounded by their timeouts alone.
        if isinstance(request, Request):
            set_deadline(self.state.settings.request_deadline_s)
        current_breakers.set(self.state.breakers)
        # No credentials where they are needed: only reads by invoice key may go on.
        # A WebSocket without one may still bring it in its connection_init payload (a
        # browser cannot set headers there): ``on_ws_connect`` decides.
        principal = self.auth.authenticate(request.headers.get("authorization"))
        principal = principal or ANONYMOUS
        return Context(
            settings=self.state.settings,
            connectors=self.state.connectors,
            loaders=Loaders(
                self.state.connectors,
                cache=self.state.cache,
                telemetry=self.state.telemetry.hooks,
            ),
            idempotency=self.state.idempotency,
            cache=self.state.cache,
            request=request,
            response=response,
            principal=principal,
            scope=principal.scope,
            events=self.state.events,
        )

    def decode_json(self, data: str | bytes) -> object:
        # Invalid UTF-8 is a JSONDecodeError here (a 400), not a UnicodeDecodeError (a 500).
        return orjson.loads(data)

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        """GraphQL over HTTP: a client that prefers ``application/graphql-response+json``
        gets that media type, and a request that never reached execution (it did not
        parse, validate, or its variables did not coerce: no data, errors without a
        path) gets 400 without a ``data`` entry. ``application/json`` keeps 200."""
        response = super().create_response(response_data, sub_response)
        if not _graphql_response.get():
            return response
        if (
            isinstance(response_data, dict)
            and response_data.get("data") is None
            and response_data.get("errors")
            and not any(e.get("path") for e in response_data["errors"])
        ):
            body = {k: v for k, v in response_data.items() if k != "data"}
            response.body = self.encode_json(body)
            response.headers["content-length"] = str(len(response.body))
            if not sub_response.status_code:
                response.status_code = 400
        response.headers["content-type"] = GRAPHQL_RESPONSE_JSON
        return response

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data, default=_raw_number)

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        context, data = kwargs.get("context"), kwargs.get("request_data")
        if isinstance(context, Context) and context.principal is ANONYMOUS:
            context.act_as(admit_by_invoice_keys(data if isinstance(data, list) else [data]))
        result: Any = None
        try:
            result = await super().execute_operation(*args, **kwargs)
            return result
        finally:
            # What the operation's writes invalidated in the shared cache is gone before
            # the response leaves: another replica reading next sees the change.
            if isinstance(context, Context):
                await context.loaders.settle()
                # A subscription (over server-sent events) goes on reading through them.
                if not inspect.isasyncgen(result):
                    context.loaders.forget()


GRAPHQL_RESPONSE_JSON = "application/graphql-response+json; charset=utf-8"
# Whether the request being answered prefers application/graphql-response+json.
_graphql_response: ContextVar[bool] = ContextVar("clubgraph_graphql_response", default=False)


def prefers_graphql_response(accept: str | None) -> bool:
    """Whether an Accept header ranks application/graphql-response+json at least as high
    as application/json (and above zero)."""
    if not accept:
        return False
    ranks: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranks[media.lower()] = max(quality, ranks.get(media.lower(), 0.0))
    wanted = ranks.get("application/graphql-response+json", 0.0)
    return wanted > 0 and wanted >= ranks.get("application/json", 0.0)


async def _open(state: AppState) -> None:
    settings = state.settings
    embedded = settings.embedded_sandbox
    sources: tuple[SourceSettings, ...] = settings.sources
    if embedded:
        state.sandbox = await start_sandbox(
            "127.0.0.1",
            settings.sandbox_port_base,
            latency_ms=settings.sandbox_latency_ms,
            seed=settings.sandbox_seed,
            # Its changes announced to this server, as the platforms would.
            webhook_base=settings.webhook_base_url,
        )
        sources = tuple(
            SourceSettings(Source(name), url, None) for name, url in state.sandbox.urls.items()
        )
        log.warning(
            "no upstream configured: serving the embedded sandbox (%s)",
            ", ".join(f"{k}={v}" for k, v in state.sandbox.urls.items()),
        )
    # The embedded sandbox's data lives in memory and is reseeded on every start: an
    # index of it must not outlive it. With PostgreSQL configured the index lives there,
    # one for every replica.
    index = ":memory:" if embedded else settings.database_url or settings.clubcollect_index
    state.breakers = Breakers.from_settings(settings)
    for cfg in sources:
        # The embedded sandbox takes development credentials by design: no warning.
        state.connectors[cfg.source] = build_connector(
            cfg,
            warn_dev_credentials=not embedded,
            clubcollect_index=index,
            settings=settings,
            breaker=state.breakers.get(cfg.source.value),
            telemetry=state.telemetry.hooks,
        )
    # Keys and journal in PostgreSQL when configured (shared by replicas), else SQLite.
    # Like the index, those of the embedded sandbox must not outlive it.
    storage = open_storage(
        None if embedded else settings.database_url, ":memory:" if embedded else settings.state_db
    )
    await storage.start()
    state.idempotency = IdempotencyStore(storage)
    await state.idempotency.start()
    state.cache = await open_cache(
        settings, sources, state.connectors, namespace=state.cache_namespace
    )
    if state.cache is not None:
        state.cache.on_lookups = state.telemetry.cache_lookups
    await asyncio.gather(*(c.start() for c in state.connectors.values()))
    # The journal shares the keys' storage (for the embedded sandbox, in memory).
    state.events = EventHub(
        Journal(storage),
        open_broker(settings.redis_url, state.cache_namespace),
        state.cache,
    )
    await state.events.start()
    broker = state.events.broker
    state.pollers = Pollers(
        state.connectors,
        state.events,
        settings.poll_interval_s,
        # With Redis, one replica at a time polls.
        lease=broker.lease if isinstance(broker, RedisBroker) else None,
    )
    state.pollers.start()


async def _close(state: AppState) -> None:
    if state.pollers is not None:
        await state.pollers.close()
        state.pollers = None
    if state.events is not None:
        await state.events.close()
        state.events = None
    await asyncio.gather(*(c.close() for c in state.connectors.values()))
    state.connectors.clear()
    if state.cache is not None:
        await state.cache.close()
        state.cache = None
    await state.idempotency.close()
    await state.idempotency.storage.close()  # the journal's too
    if state.sandbox is not None:
        await state.sandbox.stop()
        state.sandbox = None


def redis_parts(state: AppState) -> dict[str, bool]:
    """Each part kept in Redis, and whether Redis answers it now (False: the part runs
    on local behaviour: no cache, this process's subscribers, no rate limit)."""
    if not state.settings.redis_url:
        return {}
    parts: dict[str, bool] = {}
    backend = state.cache.backend if state.cache is not None else None
    if isinstance(backend, RedisBackend):
        parts["cache"] = backend.available
    if state.events is not None:
        parts["events"] = state.events.broker.available
    if isinstance(state.rate_limiter, RedisRateLimiter):
        parts["rate_limit"] = state.rate_limiter.available
    return parts


def _readiness(state: AppState) -> Response:
    """200 while every configured source's breaker lets calls through, 503 otherwise.

    A load balancer can route around an instance whose upstreams are failing; an open
    breaker is what says so, without a probe call to each upstream.
    """
    sources: dict[str, dict[str, object]] = {}
    for source in state.connectors:
        breaker = state.breakers.get(source.value)
        state_now = breaker.state
        sources[source.value] = {
            "breakerState": state_now.value,
            "healthy": state_now is not BreakerState.OPEN,
            "recentErrorRate": round(breaker.recent_error_rate, 4),
        }
    unavailable = sorted(name for name, info in sources.items() if not info["healthy"])
    body: dict[str, object] = {
        "status": "unavailable" if unavailable else "ready",
        "unavailable": unavailable,
        "sources": sources,
    }
    if state.events is not None:
        # Events reach other replicas' subscribers only while the broker is connected;
        # without it this replica still answers (its own subscribers get its events).
        broker = state.events.broker
        body["events"] = {
            "broker": broker.kind,
            "connected": broker.available,
            "subscribers": broker.subscribers,
        }
    redis = redis_parts(state)
    if redis:
        # Degraded, still ready: each part falls back to this process's own behaviour.
        body["redis"] = {part: "connected" if up else "unavailable" for part, up in redis.items()}
    return JSONResponse(body, status_code=503 if unavailable else 200)


def _subject_of(auth: Authenticator) -> Callable[[str], str | None]:
    """The verified subject of an Authorization header (None: not a valid token), for
    the rate limit's buckets."""

    def subject(authorization: str) -> str | None:
        try:
            principal = auth.authenticate(authorization)
        except Unauthenticated:
            return None
        return None if principal is None or principal is auth.anonymous else principal.subject

    return subject


def create_app(
    settings: Settings | None = None, *, telemetry: Telemetry | None = None
) -> Starlette:
    """Build the application; upstream sessions open and close with its lifespan.
    ``telemetry`` replaces what the settings ask for (a test's in-memory span exporter)."""
    state = AppState(settings or Settings.from_env())
    state.telemetry = telemetry or Telemetry.from_settings(state.settings)
    state.rate_limiter = rate_limiter(state.settings)
    state.telemetry.watch(
        lambda: ((s.value, state.breakers.get(s.value).state) for s in state.connectors),
        lambda: state.events.broker.subscribers if state.events is not None else 0,
        lambda: redis_parts(state),
    )
    schema = build_schema(
        compiled=state.settings.compiled_execution,
        settings=state.settings,
        telemetry=state.telemetry,
    )
    graphql = GraphQLApp(schema, state)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[Mapping[str, Any]]:
        # Redacted (and JSON) log lines from here on: uvicorn has set up its logging.
        restore_logging = install_logging(state.settings.log_format)
        MEMO.resize(state.settings.row_memo_bytes)
        await _open(state)
        assert state.events is not None
        broker = state.events.broker
        restore_signals = drain_on_signals(broker.drain, broker.emptied)
        if graphql.auth.anonymous is not None:
            log.warning(
                "anonymous callers act as a demo staff user with every tenant (sandbox "
                "mode); clubgraph serve --require-auth turns that off"
            )
        elif not graphql.auth.keys:
            log.warning("no CLUBGRAPH_JWT_* key configured: only invoiceByKey can be served")
        try:
            yield {}
        finally:
            restore_signals()
            await _close(state)
            await state.telemetry.close()
            restore_logging()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        return _readiness(state)

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *webhook_routes(lambda: state),
            *state.telemetry.routes(),
            *(graphql.ide_page.routes() if graphql.ide_page else []),
        ],
        lifespan=lifespan,
        # CORS, body size, batches, rate limits and security headers (guard.py).
        middleware=[
            # Outermost: every answer, the guard's refusals too, has its X-Request-ID.
            Middleware(RequestIds),
            Middleware(
                Guard,
                settings=state.settings,
                identify=_subject_of(graphql.auth),
                ide_html=graphql.graphql_ide_html if graphql.graphql_ide else None,
                batching=schema.config.batching_config is not None,
                limiter=state.rate_limiter,
            ),
        ],
    )
    app.state.clubgraph = state
    return app
