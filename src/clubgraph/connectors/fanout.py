"""One upstream call per distinct key, all at once: batching for sources with no batch endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


async def by_distinct(keys: Iterable[K], load: Callable[[K], Awaitable[V]]) -> dict[K, V]:
    """``load`` run once per distinct key, concurrently; results by key."""
    distinct = list(dict.fromkeys(keys))
    values = await asyncio.gather(*(load(k) for k in distinct))
    return dict(zip(distinct, values, strict=True))


async def per_distinct(keys: Sequence[K], load: Callable[[K], Awaitable[V]]) -> list[V]:
    """``load`` run once per distinct key, concurrently; results in the order of ``keys``."""
    found = await by_distinct(keys, load)
    return [found[k] for k in keys]
