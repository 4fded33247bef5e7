"""The schema as a contract: ``schema.graphql`` is the SDL the server serves, and
``clubgraph schema --breaking-against`` names what an SDL change breaks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from clubgraph.cli import schema_sdl

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "schema.graphql"


def test_the_committed_schema_is_the_served_schema() -> None:
    assert COMMITTED.read_text() == schema_sdl(), (
        "schema.graphql is out of date: run `clubgraph schema > schema.graphql` and review "
        "the difference"
    )


def _clubgraph(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clubgraph.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_breaking_changes_are_named(tmp_path: Path) -> None:
    same = _clubgraph("schema", "--breaking-against", str(COMMITTED), "--strict")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "no breaking change" in same.stdout
    # An earlier schema with a field this one no longer has: clients that asked for it break.
    earlier = COMMITTED.read_text().replace("type Query {", "type Query {\n  legacyTotal: Int\n", 1)
    old = tmp_path / "old.graphql"
    old.write_text(earlier)
    found = _clubgraph("schema", "--breaking-against", str(old), "--strict")
    assert found.returncode == 1
    assert "breaking: FIELD_REMOVED: Field Query.legacyTotal was removed." in found.stdout
    reported = _clubgraph("schema", "--breaking-against", str(old))
    assert reported.returncode == 0
    assert "FIELD_REMOVED" in reported.stdout
