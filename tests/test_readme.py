"""The README's first query answers exactly what the README shows."""

from __future__ import annotations

import json
import re
from pathlib import Path

from graphql import parse, validate

from clubgraph.schema import build_schema
from clubgraph.settings import Settings
from support import GraphServer

README = Path(__file__).resolve().parents[1] / "README.md"


async def test_the_first_query_gives_the_documented_answer(graph: GraphServer) -> None:
    text = README.read_text()
    query = re.search(r"```graphql\n(.*?)```", text, re.S)
    answer = re.search(r"```json\n(.*?)```", text, re.S)
    assert query is not None
    assert answer is not None
    body = await graph.query(query.group(1))
    body.pop("extensions", None)
    assert body == json.loads(answer.group(1))


async def test_every_operation_in_the_readme_runs(graph: GraphServer) -> None:
    blocks = re.findall(r"```graphql\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 2
    schema = build_schema(settings=Settings())._schema
    for block in blocks:
        if block.lstrip().startswith("subscription"):
            # A subscription waits for events: it must at least be valid against the schema.
            assert validate(schema, parse(block)) == [], block
            continue
        body = await graph.query(block)
        assert "errors" not in body, (block, body["errors"])
        for payload in body["data"].values():
            if isinstance(payload, dict) and "userErrors" in payload:
                assert payload["userErrors"] == [], block
