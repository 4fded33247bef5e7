"""Persisted queries: Apollo's automatic persisted queries with Apollo Client's own link,
GET by hash, and trusted documents (only a manifest's operations run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clubgraph.persisted import PersistedQueries, PersistedQueryError, sha256
from clubgraph.sandbox.runner import RunningSandbox
from clubgraph.settings import Settings, SettingsError
from support import GraphServer, graph_server, run_node


async def test_apollo_clients_persisted_query_link_round_trip(graph: GraphServer) -> None:
    out = await run_node("apq.mjs", graph.url + "/graphql", needs="@apollo/client")
    report = json.loads(out)
    wire = report["wire"]
    # 1: the hash alone, by GET: not known yet. 2: document and hash, by POST.
    # 3: the next client's hash alone, by GET: known now, answered.
    assert [w["method"] for w in wire] == ["GET", "POST", "GET"], wire
    assert "PersistedQueryNotFound" in wire[0]["body"]
    assert "query=" not in wire[0]["url"]
    assert "query=" not in wire[2]["url"]
    assert "sha256Hash" in wire[2]["url"]
    assert wire[2]["status"] == 200
    sources = [s["source"] for s in report["results"][1]["sources"]]
    assert sources == ["FITNESSFORCE", "TIMETAP", "CLUBCOLLECT", "TIGHT"]
    assert report["results"][0] == report["results"][1]


async def _post(graph: GraphServer, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with graph.http.post(graph.url + "/graphql", json=payload) as resp:
        return resp.status, await resp.json(content_type=None)


def _extensions(query: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}


async def test_a_hash_that_does_not_match_its_document_is_refused(graph: GraphServer) -> None:
    status, body = await _post(
        graph,
        {"query": "{ __typename }", "extensions": _extensions("{ sources { source } }")},
    )
    assert status == 400
    assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    status, body = await _post(
        graph,
        {"extensions": {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}}},
    )
    assert status == 400
    assert "version" in body["errors"][0]["message"]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    query = "query Trusted { sources { source } }"
    path = tmp_path_factory.mktemp("trusted") / "manifest.json"
    path.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"id": sha256(query), "name": "Trusted", "body": query}],
            }
        )
    )
    return path, query


async def test_trusted_documents_run_and_nothing_else(
    sandbox: RunningSandbox, manifest: tuple[Path, str]
) -> None:
    path, query = manifest
    settings = Settings(
        mode="sandbox",
        trusted_documents=str(path),
        sources=sandbox.source_settings(),
    )
    async with graph_server(settings, sandbox) as graph:
        # By hash, by POST and by GET; and the document in full, which is the same one.
        status, body = await _post(graph, {"extensions": _extensions(query)})
        assert status == 200
        assert body["data"]["sources"]
        params = {"extensions": json.dumps(_extensions(query))}
        async with graph.http.get(graph.url + "/graphql", params=params) as resp:
            assert resp.status == 200
            assert (await resp.json())["data"]["sources"]
        status, body = await _post(graph, {"query": query})
        assert status == 200
        # Anything else: refused before it runs, and never learnt.
        other = "{ sources { source configured } }"
        for payload in (
            {"query": other},
            {"query": other, "extensions": _extensions(other)},
            {"extensions": _extensions(other)},
        ):
            status, body = await _post(graph, payload)
            assert status == 400, body
            assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
            assert "data" not in body
        await graph.clear_upstream_requests()
        status, body = await _post(graph, {"query": "{ invoices(first: 5) { totalCount } }"})
        assert status == 400
        # (ClubCollect's index crawls in the background after a start: not this query.)
        asked = [r for r in await graph.upstream_requests() if r["source"] != "clubcollect"]
        assert asked == []


def test_a_manifest_whose_hashes_do_not_match_stops_the_server(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"0" * 64: "{ __typename }"}))
    with pytest.raises(SettingsError, match="does not hash to it"):
        PersistedQueries.from_manifest(str(bad))
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({sha256("{ __typename }"): "{ __typename }"}))
    trusted = PersistedQueries.from_manifest(str(plain))
    assert trusted.resolve("{ __typename }", None) == "{ __typename }"
    with pytest.raises(PersistedQueryError):
        trusted.resolve("{ sources { source } }", None)


def test_the_store_is_bounded() -> None:
    store = PersistedQueries(kept=2)
    for n in range(3):
        query = f"query Q{n} {{ __typename }}"
        assert store.resolve(query, _extensions(query)) == query
    first = "query Q0 { __typename }"
    with pytest.raises(PersistedQueryError, match="PersistedQueryNotFound"):
        store.resolve(None, _extensions(first))
    last = "query Q2 { __typename }"
    assert store.resolve(None, _extensions(last)) == last
