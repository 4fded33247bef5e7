"""The load generator, a process of its own: ``python -m bench.load --spec FILE ...``.

Closed loop: ``--concurrency C`` workers each run one iteration after another, starting
new ones for ``--duration`` seconds, or ``--count`` iterations in all (after
``--warmup`` iterations that are not measured); iterations still running at the
deadline finish (at most DRAIN_S more) and count: throughput is iterations completed
over the time from the start to the last completion. Open loop: ``--rate R`` starts R
iterations per second for ``--duration`` seconds whatever the answers take (at most
``--max-in-flight`` at once).
An iteration is the spec's steps in order (bench/graphql.py). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from .graphql import IterationError, run_iteration

# How long iterations still running at the deadline may take to finish.
DRAIN_S = 30.0
REQUEST_TIMEOUT_S = 60.0


class Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []  # seconds, of every iteration that completed
        self.last_done = 0.0  # perf_counter of the last completion
        self.completed_total = 0
        self.errors = 0
        self.first_error: str | None = None
        self.started = 0
        self.dropped = 0  # open loop: starts dropped because max-in-flight were running

    def error(self, exc: BaseException) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = f"{type(exc).__name__}: {exc}"[:500]


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0-100) of ``values`` (not empty)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


async def _one(http: aiohttp.ClientSession, spec: dict[str, Any], tally: Tally) -> None:
    tally.started += 1
    began = time.perf_counter()
    try:
        await run_iteration(http, spec)
    except (IterationError, aiohttp.ClientError, TimeoutError, ValueError) as exc:
        tally.error(exc)
        return
    done = time.perf_counter()
    tally.completed_total += 1
    tally.last_done = max(tally.last_done, done)
    tally.latencies.append(done - began)


async def closed_loop(
    http: aiohttp.ClientSession, spec: dict[str, Any], args: argparse.Namespace, tally: Tally
) -> tuple[float, float]:
    for _ in range(args.warmup):
        with contextlib.suppress(IterationError, aiohttp.ClientError, TimeoutError):
            await run_iteration(http, spec)
    budget = {"left": args.count}
    start = time.perf_counter()
    end = start + args.duration if args.count is None else math.inf

    async def worker() -> None:
        while time.perf_counter() < end:
            if budget["left"] is not None:
                if budget["left"] <= 0:
                    return
                budget["left"] -= 1
            await _one(http, spec, tally)

    workers = [asyncio.create_task(worker()) for _ in range(args.concurrency)]
    await _drain(workers, end)
    return start, tally.last_done or time.perf_counter()


async def open_loop(
    http: aiohttp.ClientSession, spec: dict[str, Any], args: argparse.Namespace, tally: Tally
) -> tuple[float, float]:
    start = time.perf_counter()
    end = start + args.duration
    slots = asyncio.Semaphore(args.max_in_flight)
    tasks: set[asyncio.Task[None]] = set()
    dropped = 0

    async def guarded() -> None:
        try:
            await _one(http, spec, tally)
        finally:
            slots.release()

    n = 0
    while True:
        due = start + n / args.rate
        if due >= end:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        n += 1
        if slots.locked():
            dropped += 1
            continue
        await slots.acquire()
        task = asyncio.create_task(guarded())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    tally.dropped = dropped
    await _drain(list(tasks), end)
    return start, end


async def _drain(tasks: list[asyncio.Task[None]], end: float) -> None:
    """Wait for the workers, at most DRAIN_S past the deadline, then cancel them."""
    if not tasks:
        return
    limit = None if math.isinf(end) else max(0.0, end - time.perf_counter()) + DRAIN_S
    _, pending = await asyncio.wait(tasks, timeout=limit)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    spec = args.spec_data
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=max(args.concurrency, args.max_in_flight))
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        if args.rate:
            start, window_end = await open_loop(http, spec, args, tally)
        else:
            start, window_end = await closed_loop(http, spec, args, tally)
    elapsed = max(window_end - start, 1e-9)
    lat = tally.latencies
    out: dict[str, Any] = {
        "mode": "open" if args.rate else "closed",
        "concurrency": args.concurrency,
        "rate": args.rate,
        "window_s": round(elapsed, 3),
        "completed": tally.completed_total,
        "cancelled": tally.started - tally.completed_total - tally.errors,
        "errors": tally.errors,
        "first_error": tally.first_error,
        "throughput_rps": round(tally.completed_total / elapsed, 2),
        "dropped": tally.dropped,
    }
    if lat:
        out["latency_ms"] = {
            "p50": round(percentile(lat, 50) * 1000, 2),
            "p90": round(percentile(lat, 90) * 1000, 2),
            "p99": round(percentile(lat, 99) * 1000, 2),
            "mean": round(sum(lat) / len(lat) * 1000, 2),
            "max": round(max(lat) * 1000, 2),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--spec", required=True, help="JSON file: url and steps")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds")
    parser.add_argument("--count", type=int, help="iterations in all instead of a duration")
    parser.add_argument("--warmup", type=int, default=0, help="unmeasured iterations first")
    parser.add_argument("--rate", type=float, help="open loop: iterations per second")
    parser.add_argument("--max-in-flight", type=int, default=256)
    args = parser.parse_args(argv)
    args.spec_data = orjson.loads(Path(args.spec).read_bytes())
    result = asyncio.run(run(args))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
