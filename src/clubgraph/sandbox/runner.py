"""Start the four sandbox servers on one event loop."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from ..domain import Source
from . import webhooks
from .core import RECORDER

if TYPE_CHECKING:
    from ..settings import SourceSettings

SOURCES = ("fitnessforce", "timetap", "clubcollect", "tight")
# The port offset of each source from --port-base.
OFFSETS = {"fitnessforce": 1, "timetap": 2, "clubcollect": 3, "tight": 4}
# The sources that announce their changes (TimeTap and Tight are polled).
WEBHOOK_SOURCES = ("fitnessforce", "clubcollect")


def webhook_url(base: str, source: str) -> str:
    """Where ``source`` posts its webhooks under clubgraph's base URL ``base``."""
    return f"{base.rstrip('/')}/webhooks/{source}"


def create_app(
    source: str,
    *,
    seed: int = 7,
    latency_ms: int = 0,
    bench: bool = False,
    cache_responses: bool = False,
) -> web.Application:
    """The sandbox application of one source.

    ``bench`` adds the benchmark data (FitnessForce's tenant 103, for W0);
    ``cache_responses`` serves repeated reads from memory until the next write.
    """
    module = importlib.import_module(f"clubgraph.sandbox.{source}.app")
    extra = {"bench": True} if bench and source == "fitnessforce" else {}
    app: web.Application = module.create_app(seed=seed, latency_ms=latency_ms, **extra)
    if cache_responses:
        app[RECORDER].cache = {}
    return app


@dataclass(slots=True)
class RunningSandbox:
    """Servers that are up; ``urls`` maps source name to base URL."""

    urls: dict[str, str] = field(default_factory=dict)
    apps: dict[str, web.Application] = field(default_factory=dict)
    _runners: list[web.AppRunner] = field(default_factory=list)

    def source_settings(self) -> tuple[SourceSettings, ...]:
        """Settings' sources for these servers, on their development credentials."""
        from ..settings import SourceSettings

        return tuple(SourceSettings(Source(s), u, None) for s, u in self.urls.items())

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()


async def start_sandbox(
    host: str = "127.0.0.1",
    port_base: int | None = 9100,
    *,
    latency_ms: int = 0,
    seed: int = 7,
    sources: Iterable[str] = SOURCES,
    bench: bool = False,
    cache_responses: bool = False,
    webhook_base: str | None = None,
) -> RunningSandbox:
    """Start servers; ``port_base=None`` picks free ports (for tests).

    ``webhook_base``: clubgraph's base URL; FitnessForce then posts its webhooks to
    ``<base>/webhooks/fitnessforce`` and ClubCollect to ``<base>/webhooks/clubcollect``,
    signed with the development secrets.
    """
    if webhook_base is not None:
        webhooks.check_url(webhook_base)  # before any server starts
    running = RunningSandbox()
    try:
        for source in sources:
            app = create_app(
                source,
                seed=seed,
                latency_ms=latency_ms,
                bench=bench,
                cache_responses=cache_responses,
            )
            if webhook_base is not None and source in WEBHOOK_SOURCES:
                webhooks.configure(app, webhook_url(webhook_base, source))
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            port = 0 if port_base is None else port_base + OFFSETS[source]
            site = web.TCPSite(runner, host, port, backlog=1024)
            await site.start()
            running._runners.append(runner)
            bound = runner.addresses[0][1]
            shown = f"[{host}]" if ":" in host else host
            running.urls[source] = f"http://{shown}:{bound}"
            running.apps[source] = app
    except BaseException:
        await running.stop()
        raise
    return running
