"""Graceful shutdown: subscriptions end cleanly, requests in flight finish.

On SIGTERM (or SIGINT) uvicorn stops accepting connections, lets the requests in
flight finish (for up to ``--shutdown-timeout`` seconds) and closes WebSockets with
1012 (service restart: a client reconnects, to another replica). A subscription would
otherwise only learn of it when its socket goes: before passing the signal on, the
server ends every subscription, so that each client gets the protocol's ``complete``
(and a server-sent event stream its last event) while the connection still stands.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def drain_on_signals(drain: Callable[[], None]) -> Callable[[], None]:
    """Call ``drain`` on the running loop when a stop signal arrives, then the handler
    that was there before (the server's). Returns what puts the previous handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals reach the main thread only
    loop = asyncio.get_running_loop()
    installed: dict[signal.Signals, tuple[Any, Any]] = {}
    for sig in SIGNALS:
        prior = signal.getsignal(sig)

        def handler(signum: int, frame: FrameType | None, prior: Any = prior) -> None:
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
