"""The workloads as iteration specs (bench/graphql.py): documents, variables, steps.

Documents come from ``clubgraph.workloads.load(name)``; a workload whose document does
not exist yet is skipped with a message. A peer may replace a workload's document,
variables or whole step list in its peer.json (``overrides``, README.md).
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import aiohttp

from clubgraph import workloads as canonical

from .graphql import run_iteration
from .servers import ServerDef

# File names agreed for documents not yet registered in clubgraph.workloads.NAMES.
PENDING_FILES = {"W0": "w0_n_plus_one.graphql"}

DEFAULT_VARIABLES: dict[str, dict[str, Any]] = {
    "W0": {},
    "W1": {"first": 50},
    "W2": {"first": 500},
}

# W4 creates on Tight: one POST makes the invoice with its lines, one GET reads it back.
W4_SOURCE = "TIGHT"
W4_LINES = [
    {"description": "Monthly membership", "quantity": "1", "unitPrice": "49.95"},
    {"description": "Personal training", "quantity": "2", "unitPrice": "35.10"},
    {"description": "Towel service", "quantity": "3", "unitPrice": "0.10"},
]
# W3 reads a member who is a client of all four sources (the sandbox's people 0-4).
W3_EMAIL = "aria.dejong0@example.net"


def document(name: str) -> str | None:
    """The canonical document of workload ``name``, or None while it does not exist."""
    try:
        return canonical.load(name)
    except (KeyError, FileNotFoundError):
        pass
    pending = PENDING_FILES.get(name)
    if pending is None:
        return None
    try:
        return (files(canonical) / pending).read_text()
    except (FileNotFoundError, OSError):
        return None


async def _data(http: aiohttp.ClientSession, url: str, query: str, variables: Any) -> Any:
    spec = {"url": url, "steps": [{"query": query, "variables": variables}]}
    bodies = await run_iteration(http, spec)
    return bodies[0]["data"]


async def _clubgraph_variables(name: str, http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """Variables that name entities of this sandbox, found through clubgraph itself."""
    if name == "W3":
        data = await _data(
            http,
            url,
            "query($e: String!) { person(email: $e) { profiles { id source } } }",
            {"e": W3_EMAIL},
        )
        profiles = data["person"]["profiles"]
        chosen = next((p for p in profiles if p["source"] == "FITNESSFORCE"), profiles[0])
        return {"clientId": chosen["id"]}
    if name == "W4":
        data = await _data(
            http,
            url,
            "query($s: [Source!]) { clients(first: 1, source: $s) { nodes { id } } }",
            {"s": [W4_SOURCE]},
        )
        return {"clientId": data["clients"]["nodes"][0]["id"]}
    return {}


async def build_spec(
    name: str,
    server: ServerDef,
    url: str,
    http: aiohttp.ClientSession,
    extra_variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The iteration spec of workload ``name`` on ``server`` (served at ``url``)."""
    override = server.overrides.get(name, {})
    if "steps" in override:
        steps = []
        for step in override["steps"]:
            step = dict(step)
            if "document" in step:
                step["query"] = (server.cwd / step.pop("document")).read_text()
            steps.append(step)
        return {"url": url, "steps": steps}
    if "document" in override:
        doc: str | None = (server.cwd / override["document"]).read_text()
    else:
        doc = document(name)
    if doc is None:
        raise LookupError(f"{name}: no document yet")
    if "variables" in override:
        variables = dict(override["variables"])
    elif server.is_clubgraph:
        variables = {
            **DEFAULT_VARIABLES.get(name, {}),
            **await _clubgraph_variables(name, http, url),
        }
    else:
        variables = dict(DEFAULT_VARIABLES.get(name, {}))
    variables.update(extra_variables or {})
    if name != "W4":
        return {"url": url, "steps": [{"query": doc, "variables": variables}]}
    client_id = variables.pop("clientId", None)
    create_input = {
        "idempotencyKey": "${uuid}",
        "clientId": client_id,
        "acceptCard": True,
        "lines": W4_LINES,
    }
    return {
        "url": url,
        "steps": [
            {
                "query": doc,
                "operationName": "W4CreateInvoice",
                "variables": {"input": create_input, **variables},
                "capture": {"id": "createInvoice.invoice.id"},
                "expect_empty": ["createInvoice.userErrors"],
            },
            {"query": doc, "operationName": "W4ReadBack", "variables": {"id": "${id}"}},
        ],
    }
