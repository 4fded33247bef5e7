"""clubgraph in a supergraph: composed with a second subgraph by Apollo's composition
library and served by Apollo Gateway (both from npm, tests/node), queries that cross the
two subgraphs in either direction answer what clubgraph answers on its own."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from support import GraphServer

NODE_DIR = Path(__file__).resolve().parent / "node"


def _node_or_skip() -> str:
    node = shutil.which("node")
    if node and (NODE_DIR / "node_modules" / "@apollo" / "gateway").is_dir():
        return node
    why = "node is not installed" if not node else "run `npm ci` in tests/node (make test does)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"the supergraph cannot be composed: {why}")
    pytest.skip(f"the supergraph cannot be composed: {why}")


async def test_queries_cross_both_subgraphs_through_the_gateway(graph: GraphServer) -> None:
    node = _node_or_skip()
    process = await asyncio.create_subprocess_exec(
        node,
        str(NODE_DIR / "supergraph.mjs"),
        graph.url + "/graphql",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode == 0, err.decode()[-2000:]
    report = json.loads(out.decode().strip().splitlines()[-1])
    assert "compositionErrors" not in report, report
    # From the CRM subgraph's list to clubgraph's fields (an entity fetch of Clients).
    top = report["fromCrm"]["data"]["topClients"]
    assert [c["id"] for c in top] == report["topIds"]
    direct = await graph.data(
        "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Client { id name email } } }",
        {"ids": report["topIds"]},
    )
    assert [{"id": c["id"], "name": c["name"], "email": c["email"]} for c in top] == direct["nodes"]
    assert [c["loyaltyTier"] for c in top] == [report["tiers"][i] for i in report["topIds"]]
    # From clubgraph's invoices to the CRM's field on their clients.
    invoices = report["fromClubgraph"]["data"]["invoices"]["nodes"]
    mine = await graph.data(
        "{ invoices(first: 4, source: [FITNESSFORCE]) { nodes { number client { id name } } } }"
    )
    assert [
        {"number": i["number"], "client": {"id": i["client"]["id"], "name": i["client"]["name"]}}
        for i in invoices
    ] == mine["invoices"]["nodes"]
    assert all(i["client"]["loyaltyTier"] in {"bronze", "silver", "gold"} for i in invoices)
    assert "errors" not in report["fromCrm"]
    assert "errors" not in report["fromClubgraph"]
