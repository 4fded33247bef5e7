"""The commands as a user runs them: `clubgraph serve` and `clubgraph sandbox`."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest

from clubgraph import workloads


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _free_port_base() -> int:
    """A base whose four source ports (base + 1 .. base + 4) are all free now."""
    rnd = random.Random()
    for _ in range(100):
        base = rnd.randrange(20_000, 60_000, 10)
        try:
            for offset in range(1, 5):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise AssertionError("no free port base")


async def _wait_http(url: str, proc: asyncio.subprocess.Process, seconds: float = 30) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(int(seconds * 10)):
            if proc.returncode is not None:
                raise AssertionError(f"process exited with {proc.returncode}")
            try:
                async with http.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


async def _stop(proc: asyncio.subprocess.Process) -> bytes:
    if proc.returncode is None:
        proc.terminate()
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 15)
    except TimeoutError:
        proc.kill()
        _, err = await proc.communicate()
    return err or b""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUBGRAPH_")}
    env["CLUBGRAPH_TRACE_UPSTREAM"] = "1"
    env["CLUBGRAPH_MAX_PAGE_SIZE"] = "500"  # as `make run` sets it, for W2
    return env


@pytest.fixture(scope="module")
async def served() -> AsyncIterator[str]:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "clubgraph.cli",
        "serve",
        "--port",
        str(port),
        env=_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_http(url + "/healthz", proc)
        yield url
    finally:
        err = await _stop(proc)
        assert b"embedded sandbox" in err, err.decode()[-2000:]


async def test_serve_answers_w1_w2_w3_from_all_four_sources(served: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(served + "/graphql", json={"query": workloads.load("W1")}) as r:
            w1 = await r.json()
        assert {e["node"]["source"] for e in w1["data"]["invoices"]["edges"]} == {
            "FITNESSFORCE",
            "TIMETAP",
            "CLUBCOLLECT",
            "TIGHT",
        }
        assert w1["extensions"]["upstream"]["requests"] > 0
        async with http.post(served + "/graphql", json={"query": workloads.load("W2")}) as r:
            w2 = await r.json()
        assert len(w2["data"]["invoices"]["edges"]) == 500
        async with http.post(
            served + "/graphql",
            json={"query": '{ person(email: "x") { email } clients(first: 1) { nodes { id } } }'},
        ) as r:
            client_id = (await r.json())["data"]["clients"]["nodes"][0]["id"]
        async with http.post(
            served + "/graphql",
            json={"query": workloads.load("W3"), "variables": {"clientId": client_id}},
        ) as r:
            w3 = await r.json()
        assert w3["data"]["client"]["id"] == client_id


async def test_serve_speaks_get_and_serves_graphiql(served: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(
            served + "/graphql", params={"query": "{ clients(first: 2) { nodes { name } } }"}
        ) as r:
            assert r.status == 200
            body = await r.json()
        assert len(body["data"]["clients"]["nodes"]) == 2
        async with http.get(served + "/graphql", headers={"Accept": "text/html"}) as r:
            assert r.status == 200
            assert "graphiql" in (await r.text()).lower()
        async with http.get(served + "/healthz") as r:
            assert await r.json() == {"status": "ok"}


async def test_sandbox_command_serves_four_sources_on_its_port_base() -> None:
    base = _free_port_base()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "clubgraph.cli",
        "sandbox",
        "--port-base",
        str(base),
        "--latency-ms",
        "5",
        env=_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        lines = [(await asyncio.wait_for(proc.stdout.readline(), 30)).decode() for _ in range(4)]
        urls = dict(line.split() for line in lines)
        assert urls == {
            "fitnessforce": f"http://127.0.0.1:{base + 1}",
            "timetap": f"http://127.0.0.1:{base + 2}",
            "clubcollect": f"http://127.0.0.1:{base + 3}",
            "tight": f"http://127.0.0.1:{base + 4}",
        }
        async with aiohttp.ClientSession() as http:
            for url in urls.values():
                async with http.get(url + "/__sandbox/requests") as r:
                    assert r.status == 200
                    assert await r.json() == []
    finally:
        await _stop(proc)


async def test_several_workers_are_refused_over_the_embedded_sandbox() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "clubgraph.cli",
        "serve",
        "--workers",
        "2",
        env=_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert b"several workers need shared upstreams" in err
