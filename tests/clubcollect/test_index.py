"""The ClubCollect invoice index in SQLite: restarts, rebuilds, schema, the CLI."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from clubgraph.cli import main
from clubgraph.connectors.base import ClientFilter, InvoiceFilter, InvoiceOrder, Stream
from clubgraph.connectors.clubcollect import DEV_CREDENTIALS, ClubCollectConnector
from clubgraph.connectors.clubcollect.store import MIGRATIONS
from clubgraph.domain import Key
from clubgraph.sandbox.clubcollect.protocol import STATE
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox

CO = "cmp_utrecht_rc"


@pytest_asyncio.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["clubcollect"])
    yield running
    await running.stop()


async def requests(sandbox: RunningSandbox) -> list[str]:
    """The paths served since the last call (and clear the log)."""
    url = sandbox.urls["clubcollect"] + "/__sandbox/requests"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            log = await resp.json()
        await http.delete(url)
    return [e["path"] for e in log]


async def everything(conn: ClubCollectConnector) -> tuple[list[Key], list[Key]]:
    async def keys(streams: Any) -> list[Key]:
        out: list[Key] = []
        for stream in streams:
            assert isinstance(stream, Stream)
            out += [r.key for r in (await stream.fetch(0, 100_000)).rows]
        return out

    invoices = await keys(await conn.invoice_streams(InvoiceFilter(), InvoiceOrder()))
    clients = await keys(await conn.client_streams(ClientFilter()))
    return invoices, clients


def connector(sandbox: RunningSandbox, path: Path, url: str | None = None) -> ClubCollectConnector:
    return ClubCollectConnector(
        url or sandbox.urls["clubcollect"], DEV_CREDENTIALS, index_path=str(path)
    )


async def new_invoice(sandbox: RunningSandbox, number: str) -> dict[str, Any]:
    """An invoice created upstream behind clubgraph's back (no notification read)."""
    probe = ClubCollectConnector(sandbox.urls["clubcollect"], DEV_CREDENTIALS)
    await probe.http.start()
    try:
        imp = await probe.api.create_import(CO, "Extra")
        return dict(
            await probe.api.create_invoice(
                {
                    "import_id": imp["import_id"],
                    "external_invoice_number": number,
                    "customer": {
                        "name": {"first_name": "Ina", "last_name": "Dex"},
                        "email": {"email_address": "ina.dex@example.com"},
                    },
                    "invoice_lines": [{"amount_cents": 999, "description": "Sleutel"}],
                    "amount_total_cents": 999,
                }
            )
        )
    finally:
        await probe.http.close()


async def test_the_index_survives_a_restart_without_a_crawl(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "nested" / "index.sqlite3"
    await requests(sandbox)
    first = connector(sandbox, path)
    await first.start()
    try:
        await first.index.ready()
        before = await everything(first)
    finally:
        await first.close()
    assert any(p.startswith("/api/v2/invoices/") for p in await requests(sandbox))
    assert path.exists()

    second = connector(sandbox, path)
    await second.start()
    try:
        assert await second.tenants() == ["cmp_amsterdam_hc", CO]
        await second.index.ready()
        assert await everything(second) == before
        assert len(before[0]) == len(sandbox.apps["clubcollect"][STATE].invoices)
    finally:
        await second.close()
    assert await requests(sandbox) == []


async def test_an_index_of_another_upstream_is_not_served(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "index.sqlite3"
    first = connector(sandbox, path)
    await first.start()
    await first.index.ready()
    await first.close()
    await requests(sandbox)
    other = connector(sandbox, path, sandbox.urls["clubcollect"].replace("127.0.0.1", "localhost"))
    await other.start()
    try:
        await other.index.ready()
    finally:
        await other.close()
    assert sum(p.startswith("/api/v2/invoices/") for p in await requests(sandbox)) > 100


async def test_rebuild_replaces_the_index(sandbox: RunningSandbox, tmp_path: Path) -> None:
    conn = connector(sandbox, tmp_path / "index.sqlite3")
    await conn.start()
    try:
        await conn.index.ready()
        raw = await new_invoice(sandbox, "URC-REBUILD-1")
        invoices, _ = await everything(conn)
        assert raw["invoice_id"] not in {k.id for k in invoices}
        counts = await conn.rebuild_index()
        invoices, clients = await everything(conn)
        assert raw["invoice_id"] in {k.id for k in invoices}
        assert "ina.dex@example.com" in {k.id for k in clients}
        assert sum(c.invoices for c in counts.values()) == len(invoices)
        assert sum(c.clients for c in counts.values()) == len(clients)
    finally:
        await conn.close()


async def test_schema_version_is_recorded_and_a_newer_file_starts_over(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "index.sqlite3"
    conn = connector(sandbox, path)
    await conn.start()
    await conn.index.ready()
    await conn.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT MAX(version) FROM schema_version").fetchone() == (
            len(MIGRATIONS),
        )
        db.execute("INSERT INTO schema_version VALUES (99)")
    db.close()
    await requests(sandbox)
    again = connector(sandbox, path)
    await again.start()
    try:
        await again.index.ready()
        invoices, _ = await everything(again)
    finally:
        await again.close()
    assert len(invoices) == len(sandbox.apps["clubcollect"][STATE].invoices)
    assert any(p.startswith("/api/v2/invoices/") for p in await requests(sandbox))


async def test_cli_rebuild_prints_counts_and_fills_the_file(
    sandbox: RunningSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("CLUBGRAPH_CLUBCOLLECT_URL", sandbox.urls["clubcollect"])
    monkeypatch.setenv("CLUBGRAPH_CLUBCOLLECT_INDEX", str(path))
    for name in ("FITNESSFORCE", "TIMETAP", "TIGHT"):
        monkeypatch.delenv(f"CLUBGRAPH_{name}_URL", raising=False)
    # The command runs its own event loop: give it a thread of its own.
    assert await asyncio.to_thread(main, ["clubcollect-index", "rebuild"]) == 0
    out = capsys.readouterr().out
    assert str(path) in out
    assert "cmp_amsterdam_hc" in out
    assert CO in out
    assert "invoices" in out
    await requests(sandbox)
    conn = connector(sandbox, path)
    await conn.start()
    try:
        await conn.index.ready()
        invoices, _ = await everything(conn)
    finally:
        await conn.close()
    assert invoices
    assert await requests(sandbox) == []


def test_cli_without_clubcollect_refuses(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CLUBGRAPH_CLUBCOLLECT_URL", raising=False)
    assert main(["clubcollect-index", "rebuild"]) == 2
    assert "CLUBGRAPH_CLUBCOLLECT_URL" in capsys.readouterr().err
