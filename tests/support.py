"""Test support: a clubgraph server on loopback and a client that counts upstream calls."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import uvicorn

from clubgraph.sandbox.runner import RunningSandbox
from clubgraph.settings import Settings


@dataclass
class GraphServer:
    """A clubgraph server on loopback and an HTTP client for it."""

    url: str
    sandbox: RunningSandbox
    http: aiohttp.ClientSession

    async def query(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        operation: str | None = None,
    ) -> dict[str, Any]:
        """POST a GraphQL request; return the whole response body."""
        payload = {"query": query, "variables": variables or {}, "operationName": operation}
        async with self.http.post(self.url + "/graphql", json=payload) as resp:
            assert resp.status == 200, await resp.text()
            body: dict[str, Any] = await resp.json()
            return body

    async def data(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        operation: str | None = None,
    ) -> dict[str, Any]:
        """POST a GraphQL request that must succeed; return its data."""
        body = await self.query(query, variables, operation)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def upstream_requests(self) -> list[dict[str, Any]]:
        """Every request the sandbox servers served since the last clear, with its source."""
        out: list[dict[str, Any]] = []
        for source, url in self.sandbox.urls.items():
            async with self.http.get(url + "/__sandbox/requests") as resp:
                for entry in await resp.json():
                    out.append({**entry, "source": source})
        return out

    async def clear_upstream_requests(self) -> None:
        for url in self.sandbox.urls.values():
            async with self.http.delete(url + "/__sandbox/requests") as resp:
                assert resp.status == 204


async def serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    """Run an ASGI app with uvicorn on a free loopback port in this event loop."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://127.0.0.1:{port}"


@asynccontextmanager
async def graph_server(settings: Settings, sandbox: RunningSandbox) -> AsyncIterator[GraphServer]:
    """A clubgraph server of its own: its settings, connectors and breakers are no other's."""
    from clubgraph.app import create_app

    server, task, url = await serve(create_app(settings))
    try:
        async with aiohttp.ClientSession() as http:
            yield GraphServer(url, sandbox, http)
    finally:
        server.should_exit = True
        await task


NODE_DIR = Path(__file__).resolve().parent / "node"


async def run_node(script: str, *args: str, needs: str, limit_s: float = 120) -> str:
    """Run a script of tests/node (its npm package ``needs`` installed by `npm ci`, as
    `make test` does); its standard output. Without node or the package the test is
    skipped, or fails under CI (``CI=true``)."""
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / needs).is_dir():
        why = "node is not installed" if node is None else "run `npm ci` in tests/node"
        message = f"{script} cannot run: {why}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    process = await asyncio.create_subprocess_exec(
        node,
        str(NODE_DIR / script),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=limit_s)
    assert process.returncode == 0, err.decode()[-2000:]
    return out.decode()


def signed_headers(
    source: str,
    body: bytes,
    *,
    delivery: str | None = None,
    secret: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    """The headers of a webhook of ``source`` ("fitnessforce" or "clubcollect") as the
    platform signs it (the development secret unless another is given)."""
    import time
    import uuid

    from clubgraph.connectors.clubcollect import credentials as clubcollect
    from clubgraph.connectors.fitnessforce import credentials as fitnessforce
    from clubgraph.signing import signature_header

    prefix, default = {
        "fitnessforce": ("X-UFP", fitnessforce.DEV_WEBHOOK_SECRET),
        "clubcollect": ("X-ClubCollect", clubcollect.DEV_WEBHOOK_SECRET),
    }[source]
    stamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        f"{prefix}-Delivery": delivery or uuid.uuid4().hex,
        f"{prefix}-Signature": signature_header(secret or default, stamp, body),
    }


class Follower:
    """A graphql-ws client following one subscription, in a node process of its own."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.summary: dict[str, Any] | None = None
        self.connected = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            message = json.loads(line)
            if message.get("connected"):
                self.connected.set()
            elif "event" in message:
                await self.events.put(message["event"])
            else:
                self.summary = message

    async def next(self, limit_s: float = 10) -> dict[str, Any]:
        return await asyncio.wait_for(self.events.get(), limit_s)

    async def finish(self, limit_s: float = 20) -> dict[str, Any]:
        await asyncio.wait_for(self.process.wait(), limit_s)
        await self._reader
        assert self.summary is not None
        return self.summary


@contextlib.asynccontextmanager
async def follow(
    url: str,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    wanted: int = 100,
    timeout_ms: int = 30_000,
    subscribed: Any = None,
) -> AsyncIterator[Follower]:
    """Follow a subscription until the block ends; ``subscribed()`` is awaited until it
    is true, so that the server has opened the subscription before the block acts."""
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "graphql-ws").is_dir():
        message = "live.mjs cannot run: run `npm ci` in tests/node"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    process = await asyncio.create_subprocess_exec(
        node,
        str(NODE_DIR / "live.mjs"),
        url.replace("http://", "ws://") + "/graphql",
        token or "-",
        str(wanted),
        str(timeout_ms),
        query,
        json.dumps(variables or {}),
        stdout=asyncio.subprocess.PIPE,
    )
    follower = Follower(process)
    try:
        await asyncio.wait_for(follower.connected.wait(), 15)
        if subscribed is not None:
            deadline = time.monotonic() + 10
            while not await subscribed():
                assert time.monotonic() < deadline, "the subscription never opened"
                await asyncio.sleep(0.02)
        yield follower
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()
        with contextlib.suppress(Exception):
            await follower._reader
