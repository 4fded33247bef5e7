"""Lists over several upstream streams: a k-way merge with cursors that resume it.

A list over all sources is the merge of one stream per source, tenant and (where
the upstream splits lists so) status. A cursor records, for each stream, the
upstream position right after the last row consumed from it, so the next page
asks each upstream only for what comes after; rows from different streams are
compared on their sort value, ties going to the stream listed first.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

from .connectors.base import Row, Stream

T = TypeVar("T")

_CURSOR_VERSION = 1


class InvalidCursor(ValueError):
    """A cursor that this list did not produce."""


@dataclass(frozen=True, slots=True)
class Edge(Generic[T]):
    row: Row[T]
    cursor: str


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    edges: Sequence[Edge[T]]
    has_next_page: bool
    has_previous_page: bool
    total_count: int | None


def encode_cursor(kind: str, state: dict[str, int]) -> str:
    payload = orjson.dumps([_CURSOR_VERSION, kind, state], option=orjson.OPT_SORT_KEYS)
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> dict[str, int]:
    """The stream positions inside a cursor of list ``kind``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, cursor_kind, state = orjson.loads(raw)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise InvalidCursor(f"{cursor!r} is not a valid cursor for this list") from exc
    if (
        version != _CURSOR_VERSION
        or cursor_kind != kind
        or not isinstance(state, dict)
        or not all(isinstance(v, int) and v >= 0 for v in state.values())
    ):
        raise InvalidCursor(f"{cursor!r} is not a valid cursor for this list")
    return state


async def merge_page(
    kind: str,
    streams: Sequence[Stream[T]],
    first: int,
    after: str | None,
    *,
    descending: bool,
) -> Page[T]:
    """The page of ``first`` rows after the cursor ``after``, merged over ``streams``.

    ``kind`` names the list and its filters and order, so that a cursor from one
    list is refused by another.
    """
    state = decode_cursor(kind, after) if after else {}
    known = {s.id for s in streams}
    if any(stream_id not in known for stream_id in state):
        raise InvalidCursor("the cursor does not belong to this list")
    chunks = await asyncio.gather(*(s.fetch(state.get(s.id, 0), first + 1) for s in streams))
    heads = [0] * len(streams)
    edges: list[Edge[T]] = []
    position = dict(state)
    while len(edges) < first:
        best = _pick(chunks, heads, descending)
        if best is None:
            break
        row = chunks[best].rows[heads[best]]
        heads[best] += 1
        position[streams[best].id] = row.position + 1
        edges.append(Edge(row, encode_cursor(kind, position)))
    has_next = any(heads[i] < len(c.rows) for i, c in enumerate(chunks))
    totals = [c.total for c in chunks]
    total = sum(t for t in totals if t is not None) if None not in totals else None
    return Page(edges, has_next, bool(state), total)


def _pick(chunks: Sequence[Any], heads: list[int], descending: bool) -> int | None:
    best: int | None = None
    best_value: Any = None
    for i, chunk in enumerate(chunks):
        if heads[i] >= len(chunk.rows):
            continue
        value = chunk.rows[heads[i]].sort
        if best is None or (value > best_value if descending else value < best_value):
            best, best_value = i, value
    return best


def offset_page(kind: str, rows: Sequence[Row[T]], first: int, after: str | None) -> Page[T]:
    """A page over a list held in memory, with the same cursor format."""
    start = decode_cursor(kind, after).get("o", 0) if after else 0
    window = rows[start : start + first]
    edges = [Edge(row, encode_cursor(kind, {"o": start + i + 1})) for i, row in enumerate(window)]
    return Page(edges, start + first < len(rows), start > 0, len(rows))
