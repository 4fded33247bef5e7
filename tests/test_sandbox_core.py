"""What every sandbox server offers: the request log and injected faults."""

from __future__ import annotations

import aiohttp

from clubgraph.sandbox.runner import start_sandbox


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
