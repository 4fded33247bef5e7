"""Print the upstream requests each page costs when paging through the merged invoice list.

.venv/bin/python scripts/paging_cost.py --pages 20 --size 100
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from clubgraph.app import create_app
from clubgraph.sandbox.runner import start_sandbox
from clubgraph.settings import Settings
from support import GraphServer, serve

QUERY = """query($n: Int, $a: String, $s: [Source!]) {
  invoices(first: $n, after: $a, source: $s) { pageInfo { endCursor } nodes { id } } }"""


async def main(pages: int, size: int, sources: list[str] | None) -> None:
    sandbox = await start_sandbox(port_base=None)
    settings = Settings(
        mode="sandbox",
        sources=sandbox.source_settings(),
        trace_upstream=True,
    )
    server, task, url = await serve(create_app(settings))
    async with aiohttp.ClientSession() as http:
        graph = GraphServer(url, sandbox, http)
        # Tokens, tenants and the ClubCollect index are first-call costs.
        await graph.data(QUERY, {"n": 1, "s": sources})
        after = None
        seen = 0
        print(f"{'page':>4} {'items':>6} {'requests':>8}  by source")
        for number in range(1, pages + 1):
            await graph.clear_upstream_requests()
            body = await graph.query(QUERY, {"n": size, "a": after, "s": sources})
            nodes = body["data"]["invoices"]["nodes"]
            seen += len(nodes)
            requests = await graph.upstream_requests()
            by_source = Counter(r["source"] for r in requests)
            print(
                f"{number:>4} {seen:>6} {len(requests):>8}  "
                + ", ".join(f"{s} {n}" for s, n in sorted(by_source.items()))
            )
            after = body["data"]["invoices"]["pageInfo"]["endCursor"]
            if not nodes:
                break
    server.should_exit = True
    await task
    await sandbox.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--source", action="append", help="e.g. TIMETAP (default: all)")
    args = parser.parse_args()
    asyncio.run(main(args.pages, args.size, args.source))
