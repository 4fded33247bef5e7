"""What every sandbox server offers: the request log and injected faults."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from clubgraph.connectors.tight.credentials import DEV_CREDENTIALS
from clubgraph.sandbox.core import RECORDER, new_app
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox

INVOICES = "/v5/invoicing/invoices"


class Upstream:
    """One Tight sandbox server over HTTP, with a token to read its invoices."""

    def __init__(self, url: str, http: aiohttp.ClientSession, token: str) -> None:
        self.url = url
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}

    async def fault(self, **spec: Any) -> tuple[int, Any]:
        async with self.http.post(self.url + "/__sandbox/faults", json=spec) as resp:
            return resp.status, await resp.json() if resp.status != 204 else None

    async def add(self, **spec: Any) -> None:
        status, body = await self.fault(**spec)
        assert status == 204, body

    async def get(self, **kwargs: Any) -> tuple[int, str, bytes]:
        """GET two invoices: status, content type and raw body."""
        params = {"pageSize": "2"}
        async with self.http.get(
            self.url + INVOICES, params=params, headers=self.headers, **kwargs
        ) as resp:
            return resp.status, resp.headers["Content-Type"], await resp.read()

    async def logged(self) -> list[dict[str, Any]]:
        async with self.http.get(self.url + "/__sandbox/requests") as resp:
            entries: list[dict[str, Any]] = await resp.json()
        return entries

    async def reset(self) -> None:
        async with self.http.delete(self.url + "/__sandbox/faults") as resp:
            assert resp.status == 204
        async with self.http.delete(self.url + "/__sandbox/requests") as resp:
            assert resp.status == 204


@pytest.fixture(scope="module")
async def tight_sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None, sources=["tight"])
    yield running
    await running.stop()


@pytest.fixture
async def upstream(tight_sandbox: RunningSandbox) -> AsyncIterator[Upstream]:
    url = tight_sandbox.urls["tight"]
    async with aiohttp.ClientSession() as http:
        form = {
            "client_id": DEV_CREDENTIALS.client_id,
            "client_secret": DEV_CREDENTIALS.client_secret,
            "grant_type": "client_credentials",
        }
        async with http.post(url + "/v5/auth/token", data=form) as resp:
            token = (await resp.json())["access_token"]
        up = Upstream(url, http, token)
        await up.reset()
        try:
            yield up
        finally:
            await up.reset()


def _objects(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from _objects(value)
    elif isinstance(data, list):
        for item in data:
            yield from _objects(item)


async def test_faults_fail_matching_requests_then_stop() -> None:
    running = await start_sandbox(port_base=None, sources=["tight"])
    url = running.urls["tight"]
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                url + "/__sandbox/faults",
                json={
                    "path": "^/v5/businesses$",
                    "status": 503,
                    "times": 2,
                    "skip": 1,
                    "body": {"message": "down"},
                },
            ) as resp:
                assert resp.status == 204
            statuses = []
            for _ in range(4):
                async with http.get(url + "/v5/businesses") as resp:
                    statuses.append(resp.status)
            # No token: served requests answer 401; the 2nd and 3rd are the faults.
            assert statuses == [401, 503, 503, 401]
            async with http.get(url + "/__sandbox/requests") as resp:
                logged = [e["status"] for e in await resp.json()]
            assert logged == statuses
            async with http.post(url + "/__sandbox/faults", json={"path": "("}) as resp:
                assert resp.status == 400
            async with http.delete(url + "/__sandbox/faults") as resp:
                assert resp.status == 204
    finally:
        await running.stop()


async def test_a_status_fault_says_when_to_retry(upstream: Upstream) -> None:
    await upstream.add(path=INVOICES, kind="status", status=429, retry_after=2)
    await upstream.add(path=INVOICES, status=503, retry_after=1.5, body={"message": "busy"})
    async with upstream.http.get(upstream.url + INVOICES, headers=upstream.headers) as resp:
        assert (resp.status, resp.headers["Retry-After"]) == (429, "2")
        assert await resp.json() == {"error": "injected fault"}
    async with upstream.http.get(upstream.url + INVOICES, headers=upstream.headers) as resp:
        assert (resp.status, resp.headers["Retry-After"]) == (503, "1.5")
        assert await resp.json() == {"message": "busy"}
    status, _, _ = await upstream.get()
    assert status == 200
    logged = [(e["status"], e["fault"]) for e in await upstream.logged()]
    assert logged == [(429, "status"), (503, "status"), (200, None)]


async def test_a_rate_fails_a_seeded_share_of_matches(upstream: Upstream) -> None:
    async def statuses() -> list[int]:
        return [(await upstream.get())[0] for _ in range(12)]

    await upstream.add(path=INVOICES, status=500, rate=0.5, seed=3)
    first = await statuses()
    draws = random.Random(3)
    assert first == [500 if draws.random() < 0.5 else 200 for _ in range(12)]
    assert 0 < first.count(500) < 12
    # The same seed gives the same sequence: a test sees the same failures every run.
    await upstream.reset()
    await upstream.add(path=INVOICES, status=500, rate=0.5, seed=3)
    assert await statuses() == first
    # `times` caps how many a rate fails; `skip` lets the first matches through.
    await upstream.reset()
    await upstream.add(path=INVOICES, status=500, rate=1, times=2, skip=1)
    assert [(await upstream.get())[0] for _ in range(4)] == [200, 500, 500, 200]


async def test_latency_delays_the_answer_then_serves_it(upstream: Upstream) -> None:
    _, _, normal = await upstream.get()
    await upstream.add(path=INVOICES, kind="latency", latency_ms=150)
    started = time.perf_counter()
    status, _, body = await upstream.get()
    assert time.perf_counter() - started >= 0.15
    assert (status, body) == (200, normal)
    [_, delayed] = await upstream.logged()
    assert (delayed["status"], delayed["fault"]) == (200, "latency")
    assert delayed["duration_ms"] >= 150


async def test_injected_latency_runs_from_each_requests_arrival() -> None:
    """Requests that arrive together are answered ``latency_ms`` after they arrived.

    The time the server takes to make an answer is part of that latency, as on an
    upstream whose servers answer callers in parallel: four answers that each hold the
    loop for 40 ms are all sent 300 ms after they arrived, not 300 ms plus the work of
    the ones before them (340, 380, 420 and 460 ms).
    """
    work_s, latency_ms = 0.04, 300

    async def slow(request: web.Request) -> web.Response:
        done = time.perf_counter() + work_s
        while time.perf_counter() < done:  # making the answer holds the loop
            pass
        return web.json_response({"ok": True})

    app = new_app(latency_ms=latency_ms)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession() as http:

            async def one() -> float:
                started = time.perf_counter()
                async with http.get(f"http://127.0.0.1:{port}/slow") as resp:
                    assert (resp.status, await resp.json()) == (200, {"ok": True})
                return time.perf_counter() - started

            await one()  # a connection of the pool open: the four below are the measure
            took = await asyncio.gather(*(one() for _ in range(4)))
        entries = app[RECORDER].entries[1:]
    finally:
        await runner.cleanup()
    durations = sorted(entry["duration_ms"] for entry in entries)
    assert len(durations) == 4
    # Never before the latency, and the last not held up by the three before it.
    assert durations[0] >= latency_ms
    assert durations[-1] < latency_ms + 3 * work_s * 1000
    assert min(took) >= latency_ms / 1000


async def test_a_hung_request_is_never_answered(upstream: Upstream) -> None:
    await upstream.add(path=INVOICES, hang=True)
    with pytest.raises(asyncio.TimeoutError):
        await upstream.get(timeout=aiohttp.ClientTimeout(sock_read=0.3))
    [entry] = await upstream.logged()
    assert (entry["path"], entry["status"], entry["fault"]) == (INVOICES, None, "hang")
    # Clearing the faults lets the hung request go: the next one is served.
    await upstream.reset()
    assert (await upstream.get())[0] == 200


async def test_a_server_stops_at_once_with_a_request_hanging() -> None:
    running = await start_sandbox(port_base=None, sources=["tight"])
    url = running.urls["tight"]
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(url + "/__sandbox/faults", json={"path": ".", "hang": True}):
                pass

            async def hung() -> None:
                async with http.get(url + "/v5/businesses"):
                    pass

            request = asyncio.create_task(hung())
            for _ in range(500):  # until the request arrives
                if running.apps["tight"][RECORDER].entries:
                    break
                await asyncio.sleep(0.01)
            started = time.perf_counter()
            await running.stop()
            assert time.perf_counter() - started < 5
            # Dropped unanswered (aiohttp then resends it once, to a server now gone).
            with pytest.raises(aiohttp.ClientError):
                await request
    finally:
        await running.stop()


async def test_a_reset_closes_the_connection_unanswered(upstream: Upstream) -> None:
    await upstream.add(path=INVOICES, kind="reset", times=2)
    # aiohttp resends a GET once when the connection drops: both attempts are reset.
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await upstream.get()
    assert (await upstream.get())[0] == 200
    logged = [(e["status"], e["fault"]) for e in await upstream.logged()]
    assert logged == [(None, "reset"), (None, "reset"), (200, None)]


async def test_truncate_sends_half_the_body(upstream: Upstream) -> None:
    _, _, normal = await upstream.get()
    await upstream.add(path=INVOICES, truncate=True)
    status, content_type, body = await upstream.get()
    assert (status, content_type) == (200, "application/json")
    assert body == normal[: len(normal) // 2]
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


async def test_malformed_answers_200_with_a_body_that_is_not_json(upstream: Upstream) -> None:
    await upstream.add(path=INVOICES, kind="malformed")
    assert await upstream.get() == (200, "application/json", b"<html>oops")
    assert [(e["status"], e["fault"]) for e in await upstream.logged()] == [(200, "malformed")]


async def test_drift_changes_one_field_everywhere_it_appears(upstream: Upstream) -> None:
    _, _, raw = await upstream.get()
    normal = json.loads(raw)
    assert len(normal["data"]) == 2
    assert all("price" in line for inv in normal["data"] for line in inv["lineItems"])

    await upstream.add(path=INVOICES, drop_field="price")
    dropped = json.loads((await upstream.get())[2])
    # Removed from every object that had it, nested lines included; nothing else changes.
    assert not any("price" in o for o in _objects(dropped))
    expected = json.loads(raw)
    for obj in _objects(expected):
        obj.pop("price", None)
    assert dropped == expected

    await upstream.add(path=INVOICES, kind="wrong_type", field="date", value=20261128)
    wrong = json.loads((await upstream.get())[2])
    assert [inv["date"] for inv in wrong["data"]] == [20261128, 20261128]
    assert {**wrong["data"][0], "date": None} == {**normal["data"][0], "date": None}

    await upstream.add(path=INVOICES, enum_value={"field": "status", "value": "NEVER_SEEN"})
    unseen = json.loads((await upstream.get())[2])
    assert [inv["status"] for inv in unseen["data"]] == ["NEVER_SEEN", "NEVER_SEEN"]
    logged = [e["fault"] for e in await upstream.logged()]
    assert logged == [None, "drop_field", "wrong_type", "enum_value"]


async def test_faults_spoil_cached_answers_without_spoiling_the_cache() -> None:
    running = await start_sandbox(port_base=None, sources=["tight"], cache_responses=True)
    url = running.urls["tight"] + "/v5/businesses"
    try:
        async with aiohttp.ClientSession() as http:
            bodies = []
            for spec in (None, {"path": ".", "drop_field": "error"}, None):
                if spec is not None:
                    async with http.post(running.urls["tight"] + "/__sandbox/faults", json=spec):
                        pass
                async with http.get(url) as resp:
                    bodies.append((resp.status, await resp.json()))
            assert "error" in bodies[0][1]
            assert bodies[1] == (401, {k: v for k, v in bodies[0][1].items() if k != "error"})
            assert bodies[2] == bodies[0]
    finally:
        await running.stop()


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ([], "a fault is a JSON object"),
        ({"status": 503}, "path must be"),
        ({"path": "("}, "is not a regular expression"),
        ({"path": ".", "kind": "explode"}, "kind 'explode' is not one of"),
        ({"path": ".", "status": 503, "hang": True}, "a hang fault takes no status"),
        ({"path": ".", "hang": True, "reset": True}, "a fault has one kind"),
        ({"path": ".", "hang": "yes"}, "hang is true or absent"),
        ({"path": ".", "status": 99}, "status 99 is not an HTTP status"),
        ({"path": ".", "status": "503"}, "status must be a whole number"),
        ({"path": ".", "times": -1}, "times must be a whole number >= 0"),
        ({"path": ".", "rate": 1.5}, "rate must be between 0 and 1"),
        ({"path": ".", "status": 429, "retry_after": "soon"}, "retry_after must be a number"),
        ({"path": ".", "kind": "latency"}, "latency_ms is required"),
        ({"path": ".", "kind": "drop_field"}, "needs field"),
        ({"path": ".", "kind": "wrong_type", "field": "date"}, "needs value"),
        ({"path": ".", "enum_value": {"field": "status", "value": 3}}, "value is a string"),
        ({"path": ".", "enum_value": "status"}, 'enum_value is {"field"'),
        ({"path": ".", "kind": "reset", "latency_ms": 10}, "a reset fault takes no latency_ms"),
    ],
)
async def test_a_bad_fault_is_refused_with_the_reason(
    upstream: Upstream, spec: Any, reason: str
) -> None:
    async with upstream.http.post(upstream.url + "/__sandbox/faults", json=spec) as resp:
        assert resp.status == 400
        message = (await resp.json())["error"]
    assert message.startswith("bad fault: ")
    assert reason in message
    assert (await upstream.get())[0] == 200  # nothing was added
