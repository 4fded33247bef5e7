"""What every sandbox server shares: the request log, injected latency and faults, the app shell.

Every server records the requests it serves (``GET /__sandbox/requests``, cleared
by ``DELETE``) so that tests and benchmarks can count real upstream HTTP calls, and
misbehaves on demand (``POST /__sandbox/faults``, cleared by ``DELETE``) so that
tests can prove what a client does when an upstream fails: an error status (with
``Retry-After``), latency, a request that never gets an answer, a connection reset,
a truncated or malformed body, and drifted JSON (a field missing, of the wrong type,
or with an enum value never seen), on every matching request or at a seeded rate.
``faults.py`` describes the JSON a fault is given as. ``/__sandbox/simulate/*``
endpoints change state as something happening at a club would (a member paying), so
they count as writes: the response cache is forgotten after each.
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

from .faults import DROPS, SPOILERS, BadFault, Fault, parse

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RECORDER: web.AppKey[RequestLog] = web.AppKey("recorder")

# How long a hung request waits when nothing lets it go: far past any client timeout.
HANG_S = 3600.0
# Sandbox controls under this prefix change the state the API serves.
SIMULATE_PREFIX = "/__sandbox/simulate/"


@dataclass(slots=True)
class RequestLog:
    """Requests served by one sandbox server, its injected latency and faults."""

    latency_ms: int = 0
    entries: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    # Serving from memory (benchmarks): successful GET answers by URL and credential,
    # forgotten at the first write, so that the upstream is not what is measured.
    cache: dict[tuple[str, str | None], tuple[bytes, str]] | None = None
    # Set to let hung requests go (faults cleared, server stopping), then replaced.
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def fault_for(self, request: web.Request) -> Fault | None:
        """The fault to answer this request with, if any (counting it as used)."""
        for fault in self.faults:
            if fault.spent or not fault.matches(request):
                continue
            return fault if fault.strikes() else None
        return None

    def clear_faults(self) -> None:
        """Forget every fault and let every hung request go."""
        self.faults.clear()
        self.release.set()
        self.release = asyncio.Event()

    async def hang(self) -> None:
        """Wait until hung requests are let go (or for HANG_S)."""
        try:
            async with asyncio.timeout(HANG_S):
                await self.release.wait()
        except TimeoutError:
            pass

    def add(
        self,
        request: web.Request,
        status: int | None,
        started: float,
        arrived: float,
        fault: str | None = None,
    ) -> None:
        self.entries.append(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query_string,
                # None: the request was never answered (a hang or reset fault).
                "status": status,
                # Which caller: one source may serve several tenants on the same paths,
                # told apart only by their credentials. A digest, never the secret.
                "credential": _credential(request),
                "arrived": arrived,
                "time": time.time(),
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                # The kind of the fault injected into this request, if any.
                "fault": fault,
                # The trace the caller propagated (W3C Trace Context), if any.
                "traceparent": request.headers.get("traceparent"),
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


def _drop_connection(request: web.Request) -> web.Response:
    """Close the connection unanswered; the response returned is never sent."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=499)


@web.middleware
async def _record(request: web.Request, handler: Handler) -> web.StreamResponse:
    log = request.app[RECORDER]
    if request.path.startswith("/__sandbox/"):
        try:
            return await handler(request)
        finally:
            # After the handler, when the state has changed: a read served meanwhile
            # must not stay cached.
            if log.cache is not None and request.path.startswith(SIMULATE_PREFIX):
                log.cache.clear()
    started = time.perf_counter()
    arrived = time.time()
    deadline = started + log.latency_ms / 1000
    if log.latency_ms:
        # Requests that arrived together all take their arrival time before any of them
        # is worked on: the latency runs from each one's arrival, as on a real upstream
        # whose servers answer callers in parallel.
        await asyncio.sleep(0)
    fault = log.fault_for(request)
    kind = None if fault is None else fault.kind
    if fault is not None:
        if fault.kind == "status":
            await _until(deadline)
            log.add(request, fault.status, started, arrived, kind)
            return fault.answer()
        if fault.kind in DROPS:
            await _until(deadline)
            log.add(request, None, started, arrived, kind)
            if fault.kind == "hang":
                await log.hang()
            return _drop_connection(request)
        if fault.kind == "latency":
            await asyncio.sleep(fault.latency_ms / 1000)
    try:
        response = await _serve(request, handler, log)
    except web.HTTPException as exc:
        await _until(deadline)
        if fault is None or fault.kind not in SPOILERS:
            log.add(request, exc.status, started, arrived, kind)
            raise
        response = exc
    await _until(deadline)
    if fault is not None and fault.kind in SPOILERS and isinstance(response, web.Response):
        response = fault.spoil(response)
    log.add(request, response.status, started, arrived, kind)
    return response


async def _until(deadline: float) -> None:
    """Wait until ``deadline`` (``time.perf_counter()``), if it is still ahead."""
    remaining = deadline - time.perf_counter()
    if remaining > 0:
        await asyncio.sleep(remaining)


async def _serve(request: web.Request, handler: Handler, log: RequestLog) -> web.StreamResponse:
    """The source's answer, from the response cache when it is on and holds it."""
    cache_key = (request.path_qs, request.headers.get("Authorization"))
    if log.cache is not None:
        if request.method != "GET":
            log.cache.clear()
        elif cache_key in log.cache:
            body, content_type = log.cache[cache_key]
            return web.Response(body=body, content_type=content_type)
    response = await handler(request)
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
    """A fault as ``faults.py`` describes it; 400 with the reason when it is not one."""
    try:
        fault = parse(await request.json())
    except (BadFault, ValueError) as exc:
        return json_response({"error": f"bad fault: {exc}"}, 400)
    request.app[RECORDER].faults.append(fault)
    return web.Response(status=204)


async def _clear_faults(request: web.Request) -> web.Response:
    request.app[RECORDER].clear_faults()
    return web.Response(status=204)


async def _let_hung_requests_go(app: web.Application) -> None:
    # Before the server waits for its handlers to finish: a hung one would hold it up.
    app[RECORDER].clear_faults()


def new_app(latency_ms: int = 0) -> web.Application:
    """An aiohttp application with the request log, latency and fault middleware installed."""
    app = web.Application(middlewares=[_record], client_max_size=4 * 1024 * 1024)
    app[RECORDER] = RequestLog(latency_ms=latency_ms)
    app.on_shutdown.append(_let_hung_requests_go)
    app.router.add_get("/__sandbox/requests", _list_requests)
    app.router.add_delete("/__sandbox/requests", _clear_requests)
    app.router.add_post("/__sandbox/faults", _add_fault)
    app.router.add_delete("/__sandbox/faults", _clear_faults)
    return app
