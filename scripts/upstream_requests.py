"""Print how many upstream requests a workload costs, counted at the sandbox servers.

.venv/bin/python scripts/upstream_requests.py W1 --first 10 --first 50
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from clubgraph import workloads
from clubgraph.app import create_app
from clubgraph.sandbox.runner import start_sandbox
from clubgraph.settings import Settings
from support import GraphServer, serve


async def main(workload: str, sizes: list[int]) -> None:
    sandbox = await start_sandbox(port_base=None)
    settings = Settings(
        mode="sandbox",
        sources=sandbox.source_settings(),
        trace_upstream=True,
    )
    server, task, url = await serve(create_app(settings))
    async with aiohttp.ClientSession() as http:
        graph = GraphServer(url, sandbox, http)
        # Steady state: tokens, tenants and the ClubCollect index are first-call costs.
        await graph.data(workloads.load(workload), {"first": 1})
        for first in sizes:
            await graph.clear_upstream_requests()
            data = await graph.data(workloads.load(workload), {"first": first})
            requests = await graph.upstream_requests()
            calls = Counter(
                (r["source"], r["credential"], r["method"], r["path"], r["query"]) for r in requests
            )
            nodes = [e["node"] for e in data["invoices"]["edges"]]
            by_source = Counter(r["source"] for r in requests)
            clients = Counter({n["client"]["id"]: n["source"] for n in nodes}.values())
            print(
                f"{workload} first={first}: {len(requests)} upstream requests, "
                f"{sum(n - 1 for n in calls.values())} duplicates"
            )
            for source in sorted(by_source):
                invoices = sum(1 for n in nodes if n["source"].lower() == source)
                distinct = clients[source.upper()]
                bound = {
                    # list streams, plus per distinct client: the client and its plans
                    "fitnessforce": 2 + 2 * distinct,
                    "timetap": 6,  # 3 status lists x 2 businesses; clients come embedded
                    "clubcollect": invoices,  # no list endpoint: one read per invoice
                    "tight": 1 + 2 * distinct,
                }[source]
                print(
                    f"  {source:13} {by_source[source]:4} requests (per-entity bound {bound:3}) "
                    f"{invoices} invoices, {distinct} distinct clients"
                )
    server.should_exit = True
    await task
    await sandbox.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workload", choices=["W1", "W2"])
    parser.add_argument("--first", type=int, action="append", default=[])
    args = parser.parse_args()
    asyncio.run(main(args.workload, args.first or [10, 50]))
