"""The README and docs/ say what is true: the first query answers exactly what the
README shows, every operation they show runs, and every link between them resolves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from graphql import ExecutableDefinitionNode, parse, validate

from clubgraph.schema import build_schema
from clubgraph.settings import Settings
from support import GraphServer

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]


async def test_the_first_query_gives_the_documented_answer(graph: GraphServer) -> None:
    text = README.read_text()
    query = re.search(r"```graphql\n(.*?)```", text, re.S)
    answer = re.search(r"```json\n(.*?)```", text, re.S)
    assert query is not None
    assert answer is not None
    body = await graph.query(query.group(1))
    body.pop("extensions", None)
    assert body == json.loads(answer.group(1))


async def test_every_operation_shown_runs(graph: GraphServer) -> None:
    blocks = [
        (page.name, block)
        for page in PAGES
        for block in re.findall(r"```graphql\n(.*?)```", page.read_text(), re.S)
    ]
    assert len(blocks) >= 4
    schema = build_schema(settings=Settings())._schema
    for page, block in blocks:
        document = parse(block)
        if not all(isinstance(d, ExecutableDefinitionNode) for d in document.definitions):
            continue  # a schema shown (another subgraph's SDL), not an operation
        if block.lstrip().startswith("subscription"):
            # A subscription waits for events: it must at least be valid against the schema.
            assert validate(schema, parse(block)) == [], (page, block)
            continue
        body = await graph.query(block)
        assert "errors" not in body, (page, block, body["errors"])
        for payload in body["data"].values():
            if isinstance(payload, dict) and "userErrors" in payload:
                assert payload["userErrors"] == [], (page, block)


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", page.read_text(), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_between_the_pages_resolves(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # another site's page, not ours to check
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page.name}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{page.name}: {target} has no such heading"
