"""The image's start command, run outside a container exactly as the Dockerfile gives it
(its environment, entry point, command and health check), and its graceful shutdown:
on SIGTERM a request in flight finishes, subscriptions end with `complete`, the
application shuts down, and the process ends by the signal."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import services
from support import follow

# Two dependent round trips to a FitnessForce slowed down to 700 ms each.
SLOW = "{ invoices(first: 5, source: [FITNESSFORCE]) { nodes { number client { name } } } }"
CHANGES = "subscription { invoiceChanged { eventId } }"
DOCKERFILE = Path(__file__).resolve().parents[1] / "Dockerfile"


def _final_stage() -> list[str]:
    """The instructions of the Dockerfile's last stage, continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    last = max(i for i, ln in enumerate(lines) if ln.upper().startswith("FROM "))
    return lines[last:]


def image() -> dict[str, Any]:
    """ENV, ENTRYPOINT, CMD and the HEALTHCHECK command of the final stage."""
    env: dict[str, str] = {}
    spec: dict[str, Any] = {"env": env}
    for line in _final_stage():
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value
        elif word in ("ENTRYPOINT", "CMD"):
            spec[word.lower()] = json.loads(rest)
        elif word == "HEALTHCHECK":
            spec["healthcheck"] = json.loads(re.search(r"CMD (\[.*\])", rest).group(1))  # type: ignore[union-attr]
        elif word == "USER":
            spec["user"] = rest
    return spec


def test_the_image_runs_as_a_non_root_user_with_a_health_check() -> None:
    spec = image()
    assert spec["user"] not in ("root", "0")
    assert spec["entrypoint"] == ["clubgraph"]
    assert spec["cmd"] == ["serve"]
    assert spec["healthcheck"][0] == "python"
    assert spec["env"]["CLUBGRAPH_WORKERS"].isdigit()
    assert "STOPSIGNAL SIGTERM" in _final_stage()


@pytest.fixture
async def started(
    tmp_path: Path,
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str, Path]]:
    spec = image()
    port = services.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUBGRAPH_")}
    env.update(spec["env"])
    env.update(
        {
            # Where a container would listen on every interface, the test keeps to loopback.
            "CLUBGRAPH_HOST": "127.0.0.1",
            "CLUBGRAPH_PORT": str(port),
            "CLUBGRAPH_STATE_DB": str(tmp_path / "state.sqlite3"),
            "CLUBGRAPH_CLUBCOLLECT_INDEX": str(tmp_path / "index.sqlite3"),
            # Slow upstreams: a request is still in flight when the signal comes.
            "CLUBGRAPH_SANDBOX_LATENCY_MS": "700",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    log = (tmp_path / "server.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        *spec["entrypoint"], *spec["cmd"], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        healthy = False
        for _ in range(150):
            assert process.returncode is None, (tmp_path / "server.log").read_text()
            probe = await asyncio.create_subprocess_exec(*spec["healthcheck"], env=env)
            if await probe.wait() == 0:
                healthy = True
                break
            await asyncio.sleep(0.2)
        assert healthy, (tmp_path / "server.log").read_text()
        yield process, url, tmp_path / "server.log"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        log.close()


async def test_sigterm_finishes_requests_in_flight_and_ends_subscriptions_cleanly(
    started: tuple[asyncio.subprocess.Process, str, Path],
) -> None:
    process, url, log = started
    async with aiohttp.ClientSession() as http:

        async def subscribers() -> bool:
            async with http.get(url + "/readyz") as resp:
                count: int = (await resp.json())["events"]["subscribers"]
                return count >= 1

        async with follow(url, CHANGES, subscribed=subscribers) as follower:
            sse = await http.post(
                url + "/graphql",
                json={"query": "subscription { sourceHealth(everySeconds: 60) { source } }"},
                headers={"Accept": "text/event-stream"},
            )
            assert sse.status == 200
            first = await sse.content.readline()
            assert first.strip()
            query = asyncio.create_task(http.post(url + "/graphql", json={"query": SLOW}))
            await asyncio.sleep(0.4)  # the query waits on the slow upstreams now
            process.send_signal(signal.SIGTERM)
            answer = await asyncio.wait_for(query, 30)
            assert answer.status == 200
            body = await answer.json()
            assert "errors" not in body, body
            assert len(body["data"]["invoices"]["nodes"]) == 5
            # The event stream ends on its own (its last event says so).
            rest = await asyncio.wait_for(sse.content.read(), 10)
            assert b"complete" in rest
            summary = await follower.finish()
        assert summary["error"] is None, summary  # ended with `complete`, not an error
        assert summary["count"] == 0
        # uvicorn finishes its shutdown, then lets the signal end the process as it would
        # have without it (exit status 143 in a shell, as orchestrators expect).
        assert await asyncio.wait_for(process.wait(), 30) == -signal.SIGTERM
    assert "Application shutdown complete" in log.read_text()
    assert "Traceback" not in log.read_text()
