"""What every sandbox server shares: the request log, injected latency, the app shell.

Every server records the requests it serves (``GET /__sandbox/requests``, cleared
by ``DELETE``) so that tests and benchmarks can count real upstream HTTP calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RECORDER: web.AppKey[RequestLog] = web.AppKey("recorder")


@dataclass(slots=True)
class RequestLog:
    """Requests served by one sandbox server, plus its injected latency."""

    latency_ms: int = 0
    entries: list[dict[str, Any]] = field(default_factory=list)

    def add(self, request: web.Request, status: int, started: float, arrived: float) -> None:
        self.entries.append(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query_string,
                "status": status,
                # Which caller: one source may serve several tenants on the same paths,
                # told apart only by their credentials. A digest, never the secret.
                "credential": _credential(request),
                "arrived": arrived,
                "time": time.time(),
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            }
        )


def _credential(request: web.Request) -> str | None:
    secret = request.headers.get("Authorization") or request.query.get("api_key")
    if not secret:
        return None
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


def json_response(
    data: Any, status: int = 200, *, content_type: str = "application/json", **kwargs: Any
) -> web.Response:
    """A JSON response serialised with orjson (under another content type if a source says so)."""
    return web.Response(body=orjson.dumps(data), status=status, content_type=content_type, **kwargs)


@web.middleware
async def _record(request: web.Request, handler: Handler) -> web.StreamResponse:
    log = request.app[RECORDER]
    if request.path.startswith("/__sandbox/"):
        return await handler(request)
    started = time.perf_counter()
    arrived = time.time()
    if log.latency_ms:
        await asyncio.sleep(log.latency_ms / 1000)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        log.add(request, exc.status, started, arrived)
        raise
    log.add(request, response.status, started, arrived)
    return response


async def _list_requests(request: web.Request) -> web.Response:
    return json_response(request.app[RECORDER].entries)


async def _clear_requests(request: web.Request) -> web.Response:
    request.app[RECORDER].entries.clear()
    return web.Response(status=204)


def new_app(latency_ms: int = 0) -> web.Application:
    """An aiohttp application with the request log and latency middleware installed."""
    app = web.Application(middlewares=[_record], client_max_size=4 * 1024 * 1024)
    app[RECORDER] = RequestLog(latency_ms=latency_ms)
    app.router.add_get("/__sandbox/requests", _list_requests)
    app.router.add_delete("/__sandbox/requests", _clear_requests)
    return app
