"""Graceful shutdown: subscriptions end cleanly, requests in flight finish.

On SIGTERM (or SIGINT) uvicorn stops accepting connections, lets the requests in
flight finish (for up to ``--shutdown-timeout`` seconds) and closes WebSockets with
1012 (service restart: a client reconnects, to another replica). A subscription would
otherwise only learn of it when its socket goes: before passing the signal on, the
server ends every subscription, so that each client gets the protocol's ``complete``
(and a server-sent event stream its last event) while the connection still stands,
and passes the signal on only once they have ended (or after ``DRAIN_GRACE_S``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


# How long the server's own handler waits for the subscriptions to end, at most.
DRAIN_GRACE_S = 2.0
# After the last subscription ended: time for its last message to be written.
_LAST_WORDS_S = 0.02


def drain_on_signals(
    drain: Callable[[], None],
    ended: Callable[[], Awaitable[None]] | None = None,
    grace_s: float = DRAIN_GRACE_S,
) -> Callable[[], None]:
    """Call ``drain`` on the running loop when a stop signal arrives, then the handler
    that was there before (the server's). With ``ended``, the server's handler is called
    once ``ended()`` returns (every subscription has ended and sent its last message),
    or after ``grace_s``: uvicorn closes WebSockets as soon as its handler has run, and
    a subscription still ending then gets 1012 instead of ``complete``. Returns what
    puts the previous handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals reach the main thread only
    loop = asyncio.get_running_loop()
    installed: dict[signal.Signals, tuple[Any, Any]] = {}
    stopping: set[asyncio.Task[None]] = set()

    async def drain_then(then: Callable[[], None]) -> None:
        drain()
        assert ended is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ended(), grace_s)
        await asyncio.sleep(_LAST_WORDS_S)
        then()

    def later(then: Callable[[], None]) -> None:
        task = loop.create_task(drain_then(then))
        stopping.add(task)
        task.add_done_callback(stopping.discard)

    for sig in SIGNALS:
        prior = signal.getsignal(sig)

        def handler(signum: int, frame: FrameType | None, prior: Any = prior) -> None:
            if callable(prior) and ended is not None:
                loop.call_soon_threadsafe(later, lambda: prior(signum, frame))
                return
            loop.call_soon_threadsafe(drain)
            if callable(prior):
                prior(signum, frame)
            elif signum == signal.SIGINT and prior == signal.default_int_handler:
                raise KeyboardInterrupt

        signal.signal(sig, handler)
        installed[sig] = (handler, prior)

    def restore() -> None:
        for sig, (handler, prior) in installed.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, prior)

    return restore
