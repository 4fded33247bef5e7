"""GraphiQL: its assets served from the package, and the page in a real browser (Debian's
headless Chromium, driven by playwright-core from tests/node) running the workloads from
its editor, loading nothing from any other host."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from clubgraph import workloads
from clubgraph.graphiql import ASSETS_PATH
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox
from clubgraph.settings import Settings
from support import GraphServer, graph_server, run_node

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
HTML = {"Accept": "text/html"}
PLAIN = {"Accept-Encoding": "identity"}
PAGE_ASSETS = re.compile(r'(?:src|href)="(/graphiql/assets/[^"?]+)\?v=([0-9a-f]+)"')


def _settings(sandbox: RunningSandbox, **overrides: Any) -> Settings:
    # As `make run`: W2 asks for 500 invoices in one page.
    return Settings(
        sources=sandbox.source_settings(), **{"mode": "sandbox", "max_page_size": 500, **overrides}
    )


@pytest.fixture(scope="module")
async def own_sandbox() -> AsyncIterator[RunningSandbox]:
    """A sandbox of this module's own: the browser creates an invoice in it."""
    running = await start_sandbox(port_base=None)
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def server(own_sandbox: RunningSandbox) -> AsyncIterator[GraphServer]:
    async with graph_server(_settings(own_sandbox), own_sandbox) as graph:
        # The ClubCollect index's first crawl ends before answers are compared.
        await graph.data("{ invoices(first: 1, source: [CLUBCOLLECT]) { edges { cursor } } }")
        yield graph


async def _get(graph: GraphServer, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    async with graph.http.get(graph.url + path, headers=headers, auto_decompress=False) as resp:
        return resp.status, {k.lower(): v for k, v in resp.headers.items()}, await resp.read()


async def test_every_asset_of_the_page_is_served_from_the_package(server: GraphServer) -> None:
    _, _, page = await _get(server, "/graphql", **HTML)
    assets = PAGE_ASSETS.findall(page.decode())
    assert sorted(path.rsplit("/", 1)[1] for path, _ in assets) == [
        "graphiql-plugin-explorer.css",
        "graphiql-plugin-explorer.umd.js",
        "graphiql.min.css",
        "graphiql.min.js",
        "page.css",
        "page.js",
        "react-dom.production.min.js",
        "react.production.min.js",
    ]
    assert "://" not in re.sub(r'xmlns="[^"]*"', "", page.decode())
    for path, digest in assets:
        status, headers, body = await _get(server, f"{path}?v={digest}", **PLAIN)
        assert status == 200, path
        media = "text/css" if path.endswith(".css") else "text/javascript"
        assert headers["content-type"] == f"{media}; charset=utf-8"
        assert headers["cache-control"] == "public, max-age=31536000, immutable"
        assert headers["etag"] == f'"{digest}"'
        assert headers["x-content-type-options"] == "nosniff"
        assert int(headers["content-length"]) == len(body) > 0
        # Compressed for a client that takes gzip, and not sent again to one that has it.
        status, zipped, squeezed = await _get(server, path, **{"Accept-Encoding": "gzip"})
        assert (status, zipped["content-encoding"]) == (200, "gzip")
        assert gzip.decompress(squeezed) == body
        status, _, empty = await _get(server, path, **{"If-None-Match": f'"{digest}"'})
        assert (status, empty) == (304, b"")


async def test_an_unknown_asset_is_a_json_404(server: GraphServer) -> None:
    status, headers, body = await _get(server, ASSETS_PATH + "/../../app.py")
    assert status == 404
    status, headers, body = await _get(server, ASSETS_PATH + "/jquery.js")
    assert status == 404
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_production_serves_no_assets(sandbox: RunningSandbox) -> None:
    settings = _settings(sandbox, mode="production", jwt_secret="x" * 32)
    async with graph_server(settings, sandbox) as production:
        status, _, _ = await _get(production, ASSETS_PATH + "/graphiql.min.js")
        assert status == 404


def _chromium() -> str:
    """Debian's Chromium (scripts/test-services.sh installs it), or a skip saying so."""
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None
    )
    if found is None:
        message = (
            "GraphiQL's browser test needs Debian's chromium (apt-get install chromium "
            "chromium-driver; `make test` installs it when it may)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


async def test_graphiql_runs_the_workloads_in_headless_chromium(
    server: GraphServer, tmp_path: Path
) -> None:
    chromium = _chromium()
    # What W1 answers now: the page must show the same (nothing writes before it runs).
    expected_w1 = await server.query(workloads.load("W1"), {"first": 50})
    ARTIFACTS.mkdir(exist_ok=True)
    shots = [tmp_path / "graphiql.png", ARTIFACTS / "graphiql.png"]
    out = await run_node(
        "graphiql.mjs",
        server.url,
        chromium,
        *map(str, shots),
        needs="playwright-core",
        limit_s=240,
    )
    seen = json.loads(out)

    assert seen["status"] == 200
    assert seen["tabs"] == ["W1Dashboard", "W2LargeList", "W3MemberView", "W4CreateInvoice"]
    # The headers editor is shown, with how to send a token.
    assert seen["headers"]["shown"]
    assert '"// Authorization": "Bearer <token>"' in seen["headers"]["text"]
    assert "clubgraph token" in seen["headers"]["text"]

    # W1 from the editor: the result pane shows the invoices, the whole answer as over HTTP.
    w1 = seen["runs"]["W1"]
    assert '"invoices"' in w1["visible"]
    answer = json.loads(w1["full"])
    assert "errors" not in answer
    assert answer["data"]["invoices"]["edges"][0]["node"]["id"]
    assert answer == expected_w1

    # W3 with the client the page looked up: the README's member, in every source.
    variables = json.loads(seen["runs"]["W3variables"]["text"])
    w3 = json.loads(seen["runs"]["W3"]["full"])
    assert "errors" not in w3
    client = w3["data"]["client"]
    assert client["id"] == variables["clientId"]
    assert client["email"] == "aria.dejong0@example.net"
    assert {p["source"] for p in client["person"]["profiles"]} == {
        "FITNESSFORCE",
        "TIMETAP",
        "CLUBCOLLECT",
        "TIGHT",
    }

    # W4: the invoice created with three lines, and read back the same.
    created = json.loads(seen["runs"]["W4create"]["full"])["data"]["createInvoice"]
    assert created["userErrors"] == []
    invoice = created["invoice"]
    assert invoice["total"] == {"amount": "120.45", "currency": "EUR"}
    assert [i["description"] for i in invoice["items"]["nodes"]] == [
        "Monthly membership",
        "Personal training",
        "Towel service",
    ]
    read_back = json.loads(seen["runs"]["W4readBack"]["full"])
    assert read_back == {"data": {"node": invoice}}

    # Nothing from any other host, nothing refused by the page's policy, no error.
    assert seen["requests"]
    assert [r for r in seen["requests"] if not r.startswith(server.url + "/")] == []
    assert seen["violations"] == []
    assert seen["consoleErrors"] == []
    assert seen["pageErrors"] == []
    for shot in shots:
        assert shot.read_bytes().startswith(b"\x89PNG"), shot
