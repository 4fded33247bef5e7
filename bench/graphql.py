"""Run one workload iteration: a sequence of GraphQL requests (steps) over HTTP.

A *spec* is JSON shared by the harness and the load generator::

    {"url": "http://127.0.0.1:8000/graphql",
     "steps": [{"query": "...", "operationName": "W4CreateInvoice" | null,
                "variables": {...}, "capture": {"id": "createInvoice.invoice.id"},
                "expect_empty": ["createInvoice.userErrors"]}]}

Strings in ``variables`` may hold ``${uuid}`` (a fresh hex UUID per iteration) and
``${name}`` for a value an earlier step captured (a whole-string placeholder keeps the
captured value's JSON type).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import aiohttp
import orjson

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class IterationError(Exception):
    """A step answered with an HTTP error, GraphQL errors, or not what it should."""


def substitute(value: Any, ctx: dict[str, Any]) -> Any:
    """``value`` with every ``${name}`` replaced from ``ctx``."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole:
            return ctx[whole.group(1)]
        return _PLACEHOLDER.sub(lambda m: str(ctx[m.group(1)]), value)
    if isinstance(value, dict):
        return {k: substitute(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, ctx) for v in value]
    return value


def dig(data: Any, path: str) -> Any:
    """The value at a dotted ``path`` ("a.b.0.c") of ``data``; KeyError when absent."""
    for part in path.split("."):
        if isinstance(data, list):
            data = data[int(part)]
        elif isinstance(data, dict):
            data = data[part]
        else:
            raise KeyError(path)
    return data


async def run_iteration(http: aiohttp.ClientSession, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Run every step of ``spec`` in order; return each step's response body."""
    ctx: dict[str, Any] = {"uuid": uuid.uuid4().hex}
    bodies: list[dict[str, Any]] = []
    for step in spec["steps"]:
        payload = {
            "query": step["query"],
            "variables": substitute(step.get("variables") or {}, ctx),
        }
        if step.get("operationName"):
            payload["operationName"] = step["operationName"]
        async with http.post(
            spec["url"],
            data=orjson.dumps(payload),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        ) as resp:
            raw = await resp.read()
            if resp.status != 200:
                raise IterationError(f"HTTP {resp.status}: {raw[:300]!r}")
        body: dict[str, Any] = orjson.loads(raw)
        if body.get("errors"):
            raise IterationError(f"GraphQL errors: {str(body['errors'])[:300]}")
        data = body.get("data")
        for path in step.get("expect_empty", []):
            try:
                found = dig(data, path)
            except (KeyError, IndexError, ValueError):
                continue
            if found:
                raise IterationError(f"{path} is not empty: {str(found)[:300]}")
        for name, path in (step.get("capture") or {}).items():
            try:
                ctx[name] = dig(data, path)
            except (KeyError, IndexError, ValueError, TypeError):
                raise IterationError(f"no {path} in the answer: {str(data)[:300]}") from None
        bodies.append(body)
    return bodies
