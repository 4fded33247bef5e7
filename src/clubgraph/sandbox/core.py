"""What every sandbox server shares: the request log, injected latency, the app shell.

Every server records the requests it serves (``GET /__sandbox/requests``, cleared
by ``DELETE``) so that tests and benchmarks can count real upstream HTTP calls, and
fails requests on demand (``POST /__sandbox/faults``, cleared by ``DELETE``) so that
tests can prove what a client does when an upstream call fails.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RECORDER: web.AppKey[RequestLog] = web.AppKey("recorder")


@dataclass(slots=True)
class Fault:
    """Answer matching requests with ``status`` and ``body`` instead of serving them:
    let ``skip`` matches through first, then fail ``times`` of them."""

    method: str | None
    path: re.Pattern[str]
    status: int
    times: int
    skip: int = 0
    body: Any = None

    def matches(self, request: web.Request) -> bool:
        method_ok = self.method is None or self.method == request.method
        return method_ok and self.path.search(request.path) is not None


@dataclass(slots=True)
class RequestLog:
    """Requests served by one sandbox server, its injected latency and faults."""

    latency_ms: int = 0
    entries: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    # Serving from memory (benchmarks): successful GET answers by URL and credential,
    # forgotten at the first write, so that the upstream is not what is measured.
    cache: dict[tuple[str, str | None], tuple[bytes, str]] | None = None

    def fault_for(self, request: web.Request) -> Fault | None:
        """The fault to answer this request with, if any (counting it as used)."""
        for fault in self.faults:
            if fault.times <= 0 or not fault.matches(request):
                continue
            if fault.skip > 0:
                fault.skip -= 1
                return None
            fault.times -= 1
            return fault
        return None

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
    fault = log.fault_for(request)
    if fault is not None:
        body = fault.body if fault.body is not None else {"error": "injected fault"}
        log.add(request, fault.status, started, arrived)
        return json_response(body, fault.status)
    cache_key = (request.path_qs, request.headers.get("Authorization"))
    if log.cache is not None:
        if request.method != "GET":
            log.cache.clear()
        elif cache_key in log.cache:
            body, content_type = log.cache[cache_key]
            log.add(request, 200, started, arrived)
            return web.Response(body=body, content_type=content_type)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        log.add(request, exc.status, started, arrived)
        raise
    log.add(request, response.status, started, arrived)
    if (
        log.cache is not None
        and request.method == "GET"
        and response.status == 200
        and isinstance(response, web.Response)
        and isinstance(response.body, bytes)
    ):
        log.cache[cache_key] = (response.body, response.content_type)
    return response


async def _list_requests(request: web.Request) -> web.Response:
    return json_response(request.app[RECORDER].entries)


async def _clear_requests(request: web.Request) -> web.Response:
    request.app[RECORDER].entries.clear()
    return web.Response(status=204)


async def _add_fault(request: web.Request) -> web.Response:
    """``{"path": regex, "method"?, "status"?, "times"?, "skip"?, "body"?}``."""
    try:
        spec = await request.json()
        fault = Fault(
            method=spec.get("method"),
            path=re.compile(spec["path"]),
            status=int(spec.get("status", 500)),
            times=int(spec.get("times", 1)),
            skip=int(spec.get("skip", 0)),
            body=spec.get("body"),
        )
    except (ValueError, KeyError, TypeError, re.error) as exc:
        return json_response({"error": f"bad fault: {exc}"}, 400)
    request.app[RECORDER].faults.append(fault)
    return web.Response(status=204)


async def _clear_faults(request: web.Request) -> web.Response:
    request.app[RECORDER].faults.clear()
    return web.Response(status=204)


def new_app(latency_ms: int = 0) -> web.Application:
    """An aiohttp application with the request log and latency middleware installed."""
    app = web.Application(middlewares=[_record], client_max_size=4 * 1024 * 1024)
    app[RECORDER] = RequestLog(latency_ms=latency_ms)
    app.router.add_get("/__sandbox/requests", _list_requests)
    app.router.add_delete("/__sandbox/requests", _clear_requests)
    app.router.add_post("/__sandbox/faults", _add_fault)
    app.router.add_delete("/__sandbox/faults", _clear_faults)
    return app
