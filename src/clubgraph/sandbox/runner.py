"""Start the four sandbox servers on one event loop."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from ..domain import Source
from .core import RECORDER

if TYPE_CHECKING:
    from ..settings import SourceSettings

SOURCES = ("fitnessforce", "timetap", "clubcollect", "tight")
# The port offset of each source from --port-base.
OFFSETS = {"fitnessforce": 1, "timetap": 2, "clubcollect": 3, "tight": 4}


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
) -> RunningSandbox:
    """Start servers; ``port_base=None`` picks free ports (for tests)."""
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
