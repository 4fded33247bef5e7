"""The ASGI application: app factory and the lifespan that owns upstream sessions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from .connectors.base import Connector
from .domain import Source
from .idempotency import IdempotencyStore
from .loaders import Loaders
from .sandbox.runner import RunningSandbox, start_sandbox
from .schema import build_schema
from .schema.context import Context
from .settings import Settings, SourceSettings
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


def _raw_number(value: object) -> object:
    """Re-emit an upstream number kept exact in ``raw`` as a JSON number.

    Money fields never reach this (their scalar serialises them as decimal strings);
    only numbers inside ``raw`` do, and a JSON number is what the upstream sent.
    """
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context and orjson encoding."""

    def __init__(self, schema: strawberry.Schema, state: AppState) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self.state = state

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(
            settings=self.state.settings,
            connectors=self.state.connectors,
            loaders=Loaders(self.state.connectors),
            idempotency=self.state.idempotency,
            request=request,
            response=response,
        )

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data, default=_raw_number)


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
        )
        sources = tuple(
            SourceSettings(Source(name), url, None) for name, url in state.sandbox.urls.items()
        )
        log.warning(
            "no upstream configured: serving the embedded sandbox (%s)",
            ", ".join(f"{k}={v}" for k, v in state.sandbox.urls.items()),
        )
    # The embedded sandbox's data lives in memory and is reseeded on every start: an
    # index of it must not outlive it.
    index = ":memory:" if embedded else settings.clubcollect_index
    for cfg in sources:
        # The embedded sandbox takes development credentials by design: no warning.
        state.connectors[cfg.source] = build_connector(
            cfg, warn_dev_credentials=not embedded, clubcollect_index=index
        )
    # Like the index, the keys of writes to the embedded sandbox must not outlive it.
    state.idempotency = IdempotencyStore(":memory:" if embedded else settings.state_db)
    await state.idempotency.start()
    await asyncio.gather(*(c.start() for c in state.connectors.values()))


async def _close(state: AppState) -> None:
    await asyncio.gather(*(c.close() for c in state.connectors.values()))
    state.connectors.clear()
    await state.idempotency.close()
    if state.sandbox is not None:
        await state.sandbox.stop()
        state.sandbox = None


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the application; upstream sessions open and close with its lifespan."""
    state = AppState(settings or Settings.from_env())
    graphql = GraphQLApp(build_schema(compiled=state.settings.compiled_execution), state)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[Mapping[str, Any]]:
        await _open(state)
        try:
            yield {}
        finally:
            await _close(state)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            *webhook_routes(lambda: state.connectors),
        ],
        lifespan=lifespan,
    )
    app.state.clubgraph = state
    return app
