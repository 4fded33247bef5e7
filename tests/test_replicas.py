"""Three replicas sharing one PostgreSQL and one Redis: each idempotency key writes
upstream once, whichever replicas its retries land on; when one replica dies mid-write,
its keys are taken over in doubt: a Tight write is found again by its marker (nothing
lost, nothing doubled), a ClubCollect one is answered IN_DOUBT (never doubled).

The sandbox runs in this process, so its Tight state shows what was written: every
mutation carries its key as the invoice's note, and an invoice per note is one write.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import services
from clubgraph.sandbox.clubcollect.protocol import STATE as CLUBCOLLECT_STATE
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox
from clubgraph.sandbox.tight.state import STATE

CREATE = """mutation ($input: CreateInvoiceInput!) {
  createInvoice(input: $input) {
    userErrors { code message }
    invoice { id number total { amount currency } }
  }
}"""
LINES = [
    {"description": "Monthly membership", "quantity": "1", "unitPrice": "49.95"},
    {"description": "Personal training", "quantity": "2", "unitPrice": "35.10"},
]
TIGHT_CREATE = ("POST", "/v5/invoicing/invoice")


@pytest.fixture(scope="module")
async def sandbox() -> AsyncIterator[RunningSandbox]:
    running = await start_sandbox(port_base=None)
    yield running
    await running.stop()


@asynccontextmanager
async def replicas(
    sandbox: RunningSandbox, count: int, tmp: Path
) -> AsyncIterator[list[tuple[str, asyncio.subprocess.Process]]]:
    """``count`` ``clubgraph serve`` processes sharing a fresh PostgreSQL schema and Redis."""
    async with services.fresh_database() as database:
        common = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CLUBGRAPH_")},
            **{f"CLUBGRAPH_{s.upper()}_URL": u for s, u in sandbox.urls.items()},
            "CLUBGRAPH_MODE": "sandbox",
            "CLUBGRAPH_DATABASE_URL": database,
            "CLUBGRAPH_REDIS_URL": services.redis_url(),
            "CLUBGRAPH_POLL_INTERVAL": "0",
            "CLUBGRAPH_CLUBCOLLECT_INDEX": ":memory:",
            "CLUBGRAPH_STATE_DB": str(tmp / "unused.sqlite3"),
        }
        script = Path(sys.executable).parent / "clubgraph"
        started: list[tuple[str, asyncio.subprocess.Process]] = []
        try:
            for _ in range(count):
                port = services.free_port()
                process = await asyncio.create_subprocess_exec(
                    str(script),
                    *("serve", "--host", "127.0.0.1", "--port", str(port)),
                    *("--log-level", "warning"),
                    env=common,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
                started.append((f"http://127.0.0.1:{port}", process))
            async with aiohttp.ClientSession() as http:
                await asyncio.gather(*(_ready(http, url, p) for url, p in started))
            yield started
        finally:
            for _, process in started:
                if process.returncode is None:
                    process.terminate()
                    await process.wait()


async def _ready(http: aiohttp.ClientSession, url: str, process: Any) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert process.returncode is None, "a replica exited"
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(url + "/readyz") as resp:
                if resp.status == 200 and (await resp.json())["events"]["connected"]:
                    return
        assert time.monotonic() < deadline, "a replica never became ready"
        await asyncio.sleep(0.1)


async def tight_client(http: aiohttp.ClientSession, url: str) -> str:
    query = "{ clients(first: 1, source: [TIGHT]) { nodes { id } } }"
    async with http.post(url + "/graphql", json={"query": query}) as resp:
        client: str = (await resp.json())["data"]["clients"]["nodes"][0]["id"]
        return client


async def mutate(http: aiohttp.ClientSession, url: str, variables: dict[str, Any]) -> Any:
    """createInvoice's answer (retried while the key's first request runs, as a client is
    told to). Raises aiohttp.ClientError when the replica is gone."""
    while True:
        async with http.post(url + "/graphql", json={"query": CREATE, "variables": variables}) as r:
            body = await r.json()
        answer = body["data"]["createInvoice"]
        if [e["code"] for e in answer["userErrors"]] != ["IN_PROGRESS"]:
            return answer
        await asyncio.sleep(0.2)


async def create(http: aiohttp.ClientSession, url: str, key: str, client: str) -> Any:
    """createInvoice with ``key``; its answer (retried while the key's first request
    runs, as a client is told to). Raises aiohttp.ClientError when the replica is gone."""
    variables = {
        "input": {
            "idempotencyKey": key,
            "clientId": client,
            "acceptCard": True,
            "note": key,
            "lines": LINES,
        }
    }
    return await mutate(http, url, variables)


def invoices_per_note(sandbox: RunningSandbox, prefix: str) -> Counter[str]:
    state = sandbox.apps["tight"][STATE]
    return Counter(
        str(i["personalNote"])
        for i in state.invoices.values()
        if str(i.get("personalNote") or "").startswith(prefix)
    )


async def tight_creates(http: aiohttp.ClientSession, sandbox: RunningSandbox) -> int:
    async with http.get(sandbox.urls["tight"] + "/__sandbox/requests") as resp:
        entries = await resp.json()
    return sum((e["method"], e["path"]) == TIGHT_CREATE for e in entries)


Send = Callable[[aiohttp.ClientSession, str, str], Awaitable[Any]]


async def burst_killing_one(
    running: list[tuple[str, asyncio.subprocess.Process]],
    http: aiohttp.ClientSession,
    keys: list[str],
    send_one: Send,
    upstream: str,
) -> tuple[dict[str, list[Any]], list[str]]:
    """One mutation per key over the replicas, all at once; the first replica is killed
    (SIGKILL) once a quarter have answered, and every key that then got no answer is sent
    again to the replicas still alive. The answers by key, and the keys sent again.

    The sandbox answers in no time: ``upstream``'s writes are slowed down for the burst,
    so that some are in flight when the replica dies."""
    urls = [url for url, _ in running]
    victim = running[0][1]
    answers: dict[str, list[Any]] = {key: [] for key in keys}
    lost: list[str] = []
    quarter = asyncio.Event()

    async def send(key: str, url: str) -> None:
        try:
            answers[key].append(await send_one(http, url, key))
            if sum(map(len, answers.values())) >= len(keys) // 4:
                quarter.set()
        except (TimeoutError, aiohttp.ClientError):
            lost.append(key)

    async def kill_mid_burst() -> None:
        await quarter.wait()
        victim.send_signal(signal.SIGKILL)

    slow = {"path": ".", "method": "POST", "times": None, "latency_ms": 300}
    async with http.post(upstream + "/__sandbox/faults", json=slow) as resp:
        assert resp.status < 300, await resp.text()
    try:
        await asyncio.gather(
            kill_mid_burst(), *(send(key, urls[n % 3]) for n, key in enumerate(keys))
        )
    finally:
        async with http.delete(upstream + "/__sandbox/faults"):
            pass
    assert lost, "the kill came too late to catch a request in flight"
    survivors = urls[1:]
    await asyncio.gather(*(send(key, survivors[n % 2]) for n, key in enumerate(lost)))
    return answers, lost


async def test_1000_mutations_with_200_keys_over_three_replicas_write_each_key_once(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    keys = [f"replicas-{n:03d}" for n in range(200)]
    async with (
        replicas(sandbox, 3, tmp_path) as running,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http,
    ):
        urls = [url for url, _ in running]
        client = await tight_client(http, urls[0])
        # Each key five times, each send to the next replica, all at once, shuffled.
        sends = [(key, urls[(n + i) % 3]) for n, key in enumerate(keys) for i in range(5)]
        random.Random(11).shuffle(sends)
        async with http.delete(sandbox.urls["tight"] + "/__sandbox/requests"):
            pass
        started = time.perf_counter()
        answers = await asyncio.gather(*(create(http, url, key, client) for key, url in sends))
        elapsed = time.perf_counter() - started
        creates = await tight_creates(http, sandbox)
    by_key: dict[str, list[Any]] = {}
    for (key, _), answer in zip(sends, answers, strict=True):
        by_key.setdefault(key, []).append(answer)
    written = invoices_per_note(sandbox, "replicas-")
    print(
        f"\n1000 createInvoice mutations, 200 keys, 3 replicas: {elapsed:.2f} s; "
        f"Tight creates {creates}; writes per key {sorted(Counter(written.values()).items())}"
    )
    assert all(not a["userErrors"] and a["invoice"] for a in answers), answers[:3]
    assert {key: len({repr(a) for a in got}) for key, got in by_key.items()} == dict.fromkeys(
        keys, 1
    )
    assert dict(written) == dict.fromkeys(keys, 1)
    assert creates == len(keys)


async def test_a_replica_killed_mid_burst_loses_nothing_and_doubles_nothing(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    keys = [f"killed-{n:03d}" for n in range(240)]
    async with (
        replicas(sandbox, 3, tmp_path) as running,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http,
    ):
        client = await tight_client(http, running[0][0])
        answers, lost = await burst_killing_one(
            running,
            http,
            keys,
            lambda h, url, key: create(h, url, key, client),
            sandbox.urls["tight"],
        )
    written = invoices_per_note(sandbox, "killed-")
    print(
        f"\nkilled one of 3 replicas mid-burst: {len(lost)} of {len(keys)} keys unanswered "
        f"and retried; writes per key {sorted(Counter(written.values()).items())}"
    )
    # Nothing is lost: every key wrote and every caller got one answer.
    assert all(len(got) == 1 and not got[0]["userErrors"] for got in answers.values())
    # Nothing is doubled: a key the dead replica held is taken over when its lease ends,
    # and its new holder finds the dead replica's write at Tight by the marker it left
    # (apiInvoiceId) before writing: every key wrote once.
    assert dict(written) == dict.fromkeys(keys, 1)


def clubcollect_invoices_per_number(sandbox: RunningSandbox, prefix: str) -> Counter[str]:
    state = sandbox.apps["clubcollect"][CLUBCOLLECT_STATE]
    return Counter(
        str(i["external_invoice_number"])
        for i in state.invoices.values()
        if str(i.get("external_invoice_number") or "").startswith(prefix)
    )


async def test_a_write_no_source_can_trace_is_answered_in_doubt_never_twice(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    # ClubCollect keeps no partner id to find a write by: a key whose holder died
    # mid-write cannot be settled, and is answered IN_DOUBT instead of written again.
    keys = [f"ccdoubt-{n:03d}" for n in range(150)]

    def variables(key: str) -> dict[str, Any]:
        return {
            "input": {
                "idempotencyKey": key,
                "source": "CLUBCOLLECT",
                "tenantId": "cmp_amsterdam_hc",
                "number": key,
                "recipient": {
                    "firstName": "Ada",
                    "lastName": "Lovelace",
                    "email": "ada@example.org",
                },
                "lines": [{"description": "Membership", "quantity": "1", "unitPrice": "49.95"}],
            }
        }

    async with (
        replicas(sandbox, 3, tmp_path) as running,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http,
    ):
        answers, lost = await burst_killing_one(
            running,
            http,
            keys,
            lambda h, url, key: mutate(h, url, variables(key)),
            sandbox.urls["clubcollect"],
        )
    written = clubcollect_invoices_per_number(sandbox, "ccdoubt-")
    in_doubt = sorted(
        key
        for key, got in answers.items()
        if [e["code"] for e in got[-1]["userErrors"]] == ["IN_DOUBT"]
    )
    print(
        f"\nkilled one of 3 replicas mid-burst (ClubCollect): {len(lost)} keys retried, "
        f"{len(in_doubt)} answered IN_DOUBT; writes per key {sorted(Counter(written.values()).items())}"
    )
    # Never twice, whatever happened.
    assert all(n == 1 for n in written.values()), written
    # Every caller got one answer: the invoice, or IN_DOUBT for a key the dead replica held.
    assert all(len(got) == 1 for got in answers.values())
    assert set(in_doubt) <= set(lost)
    for key, got in answers.items():
        if key not in in_doubt:
            assert not got[0]["userErrors"], (key, got)
            assert key in written
