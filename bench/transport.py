"""``python -m bench.transport``: the latency of a workload's upstream requests alone.

The critical-path floor (dependent round trips x injected latency) counts nothing for
the HTTP exchanges themselves. This measures what they cost here, so that a server's
latency can be read against what the same requests need with no GraphQL around them:

1. The sandbox runs as a process of its own, as in the main benchmark (``--latency-ms``,
   ``--cache-responses``, ``--bench`` for W0).
2. clubgraph runs the workload once, in this process, and every upstream request it
   sends is recorded: method, URL, query, headers (its credentials included) and body,
   with when it started and ended.
3. The requests are grouped into the rounds they were sent in: a request belongs to a
   new round when it started after an earlier one had come back (it waited for it).
4. A bare aiohttp client (one session, as clubgraph's) then sends the same requests,
   round after round, each round's requests at once, reading every body and decoding
   none, ``--samples`` times. Its p50 is the transport's latency: the injected latency,
   the sandbox's own time, and the client's HTTP work, with nothing else.

Prints one line per workload; ``bench/results/transport.json`` holds the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from .procs import free_port
from .runner import sandbox_process
from .servers import clubgraph_server, sandbox_env

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.transport", description=__doc__)
    parser.add_argument("--workloads", default="W0,W1")
    parser.add_argument("--latency", type=int, default=50, help="injected latency, ms")
    parser.add_argument("--samples", type=int, default=30)
    return parser.parse_args(argv)


def rounds(sent: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The requests grouped by round: a request that started after an earlier one
    ended waited for it, and opens the next round."""
    out: list[list[dict[str, Any]]] = []
    ended = float("-inf")  # the first end among the current round's requests
    for request in sorted(sent, key=lambda r: r["started"]):
        if not out or request["started"] >= ended:
            out.append([])
            ended = float("inf")
        out[-1].append(request)
        ended = min(ended, request["ended"])
    return out


async def _record(name: str) -> list[dict[str, Any]]:
    """The upstream requests clubgraph sends for one run of ``name`` (after a warm-up)."""
    import uvicorn

    from clubgraph.app import create_app
    from clubgraph.http import UpstreamHTTP
    from clubgraph.observability.logs import request_id
    from clubgraph.settings import Settings

    from .graphql import run_iteration
    from .workloads import build_spec

    sent: list[dict[str, Any]] = []
    recording = False
    send = UpstreamHTTP._send

    async def recorded(
        self: UpstreamHTTP,
        method: str,
        path: str,
        params: Any,
        json_body: Any,
        form: Any,
        headers: dict[str, str],
        *rest: Any,
    ) -> Any:
        started = time.perf_counter()
        try:
            return await send(self, method, path, params, json_body, form, headers, *rest)
        finally:
            # Only what a GraphQL request sent: not the background work (the
            # ClubCollect index's crawl, pollers), which has no request id.
            if recording and request_id.get() is not None:
                sent.append(
                    {
                        "method": method,
                        "url": self.base_url + path,
                        "params": {k: str(v) for k, v in params.items()},
                        "headers": dict(headers),
                        "json": json_body,
                        "form": dict(form) if form is not None else None,
                        "started": started,
                        "ended": time.perf_counter(),
                    }
                )

    UpstreamHTTP._send = recorded  # type: ignore[method-assign]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(Settings.from_env()),
            host="127.0.0.1",
            port=(port := free_port()),
            lifespan="on",
            log_level="warning",
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        async with aiohttp.ClientSession() as http:
            spec = await build_spec(
                name, clubgraph_server(), f"http://127.0.0.1:{port}/graphql", http
            )
            for _ in range(3):  # tokens, tenant lists, the ClubCollect index
                await run_iteration(http, spec)
            await asyncio.sleep(0.3)
            recording = True
            await run_iteration(http, spec)
            recording = False
    finally:
        UpstreamHTTP._send = send  # type: ignore[method-assign]
        server.should_exit = True
        await task
    return sent


async def _replay(waves: list[list[dict[str, Any]]], samples: int) -> list[float]:
    async with aiohttp.ClientSession() as http:

        async def one(request: dict[str, Any]) -> None:
            data = None
            headers = dict(request["headers"])
            if request["json"] is not None:
                data = json.dumps(request["json"]).encode()
                headers["Content-Type"] = "application/json"
            elif request["form"] is not None:
                data = request["form"]  # sent form-encoded
            async with http.request(
                request["method"],
                request["url"],
                params=request["params"],
                data=data,
                headers=headers,
            ) as resp:
                await resp.read()

        took = []
        for i in range(samples + 3):
            started = time.perf_counter()
            for wave in waves:
                await asyncio.gather(*(one(r) for r in wave))
            if i >= 3:  # the first ones open the connections
                took.append((time.perf_counter() - started) * 1000)
        return took


async def _measure(name: str, latency: int, samples: int, workdir: Path) -> dict[str, Any]:
    sandbox, urls = await sandbox_process(latency, workdir, bench=name == "W0")
    try:
        saved = dict(os.environ)
        os.environ.update({**sandbox_env(urls), **clubgraph_server().env})
        try:
            sent = await _record(name)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        waves = rounds(sent)
        took = await _replay(waves, samples)
    finally:
        sandbox.stop()
    return {
        "workload": name,
        "latency_ms": latency,
        "requests": len(sent),
        "rounds": [len(w) for w in waves],
        "floor_ms": len(waves) * latency,
        "p50_ms": round(statistics.median(took), 1),
        "min_ms": round(min(took), 1),
        "samples": samples,
    }


async def _main(args: argparse.Namespace) -> int:
    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    rows = []
    with tempfile.TemporaryDirectory(prefix="clubgraph-transport-") as tmp:
        for name in names:
            row = await _measure(name, args.latency, args.samples, Path(tmp))
            print(
                f"{name} @{row['latency_ms']} ms: {row['requests']} requests in rounds of "
                f"{row['rounds']}, floor {row['floor_ms']} ms, bare client p50 "
                f"{row['p50_ms']} ms (min {row['min_ms']})",
                flush=True,
            )
            rows.append(row)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "transport.json").write_text(json.dumps({"rows": rows}, indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(_main(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
