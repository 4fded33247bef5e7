"""A stop signal ends the subscriptions before the server's own handler closes sockets."""

from __future__ import annotations

import asyncio
import signal
from types import FrameType

from clubgraph.shutdown import drain_on_signals


async def test_the_servers_handler_waits_until_the_subscriptions_have_ended() -> None:
    seen: list[str] = []
    ended = asyncio.Event()

    def server(signum: int, frame: FrameType | None) -> None:
        seen.append("server")

    previous = signal.signal(signal.SIGTERM, server)
    restore = drain_on_signals(lambda: seen.append("drain"), ended.wait, grace_s=5)
    try:
        signal.raise_signal(signal.SIGTERM)
        await asyncio.sleep(0.1)
        assert seen == ["drain"]  # subscriptions told to end; sockets still open
        ended.set()
        await asyncio.sleep(0.1)
        assert seen == ["drain", "server"]
    finally:
        restore()
        signal.signal(signal.SIGTERM, previous)


async def test_the_servers_handler_runs_after_the_grace_whatever_is_left() -> None:
    seen: list[str] = []

    def server(signum: int, frame: FrameType | None) -> None:
        seen.append("server")

    previous = signal.signal(signal.SIGTERM, server)
    never = asyncio.Event()
    restore = drain_on_signals(lambda: seen.append("drain"), never.wait, grace_s=0.2)
    try:
        signal.raise_signal(signal.SIGTERM)
        await asyncio.sleep(0.1)
        assert seen == ["drain"]
        await asyncio.sleep(0.4)
        assert seen == ["drain", "server"]
    finally:
        restore()
        signal.signal(signal.SIGTERM, previous)
    assert signal.getsignal(signal.SIGTERM) is previous
