"""Lists over several upstream streams: a k-way merge with cursors that resume it.

A list over all sources is the merge of one stream per source, tenant and (where the
upstream splits lists so) status. Every stream is strictly ordered by a row's
``(sort, tiebreak)``; the merge orders rows of different streams by ``sort``, then by
stream id. A cursor records, for every stream read so far, where the last row taken
from it sits (a position hint) and what it was (its sort value and tiebreak), and in
which direction the positions count. The next page asks each upstream only for what
comes after the hint, and skips what is not after the last row: rows created or
removed upstream between two page reads neither repeat nor shift what was returned.

``first``/``after`` read forward in the list's order; ``last``/``before`` read
backward. A read in the cursor's own direction is a forward merge; a read against it
takes, from each stream, the window of rows just before the cursor and keeps the
last ones of their merge. ``last`` without ``before`` reads the reversed streams.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import heapq
import zlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from itertools import islice
from operator import attrgetter
from typing import Any, Generic, TypeVar

import orjson

from .connectors.base import Chunk, Row, Stream
from .connectors.rows import merging

T = TypeVar("T")

_VERSION = 2
# A cursor never inflates past this: a crafted one cannot make the server allocate much.
_MAX_CURSOR = 64 * 1024
# How far before a position hint a resumed read starts, to notice rows removed upstream.
_SLACK = 2

OpenStreams = Callable[[bool], Awaitable[Sequence[Stream[Any]]]]


class InvalidCursor(ValueError):
    """A cursor that this list did not produce."""


class InvalidPaging(ValueError):
    """Paging arguments that do not make a request (e.g. `first` with `before`)."""


# Marks, cursors, edges and merge items are made for every row of a page, thousands per
# request: plain slotted dataclasses build three times faster than frozen ones. Nothing
# changes them once made.
@dataclass(slots=True)
class Mark:
    """Where the last row taken from a stream sits, and what it was."""

    hint: int
    sort: Any
    tiebreak: Any
    # The mark as a cursor holds it (``"stream":[hint,sort,tiebreak]``, JSON), made once:
    # a page's cursors share most of their marks.
    packed: bytes | None = field(default=None, compare=False, repr=False)

    def pack(self, stream: str) -> bytes:
        packed = self.packed
        if packed is None:
            value = [self.hint, _enc(self.sort), _enc(self.tiebreak)]
            packed = self.packed = orjson.dumps(stream) + b":" + orjson.dumps(value)
        return packed


@dataclass(slots=True)
class Cursor:
    """A point in a list: per stream, the last row taken; positions count in
    the reversed order when ``reverse``; ``at`` is the stream of the row pointed at."""

    reverse: bool
    at: str | None
    marks: dict[str, Mark]


@dataclass(slots=True)
class Edge(Generic[T]):
    """A row of a page and the point its cursor names. A first page cut from records
    in memory (``schema.connection.FirstPage``) leaves ``point`` unset: the point is
    then the row's place ``index`` in the one stream ``stream``, made when the cursor
    is asked for (an invoice's lines are listed far more often than their cursors)."""

    row: Row[T]
    kind: str
    point: Cursor | None
    stream: str = ""
    index: int = 0

    @property
    def cursor(self) -> str:
        point = self.point
        if point is None:
            row = self.row
            marks = {self.stream: Mark(self.index + 1, row.sort, row.tiebreak)}
            point = Cursor(False, self.stream, marks)
        return encode_cursor(self.kind, point)


@dataclass(slots=True)
class Page(Generic[T]):
    edges: Sequence[Edge[T]]
    has_next_page: bool
    has_previous_page: bool
    total_count: int | None


# --- cursors -------------------------------------------------------------------------


def _enc(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, Decimal):
        return {"d": str(value)}
    if isinstance(value, tuple):
        return {"u": [_enc(v) for v in value]}
    return value


def _dec(value: Any) -> Any:
    if isinstance(value, dict):
        if "t" in value:
            moment = datetime.fromisoformat(value["t"])
            if moment.tzinfo is None:
                raise ValueError("naive datetime in cursor")
            return moment
        if "d" in value:
            return Decimal(value["d"])
        if "u" in value:
            return tuple(_dec(v) for v in value["u"])
        raise ValueError("unknown value in cursor")
    if isinstance(value, int | str) or value is None:
        return value
    raise ValueError("unknown value in cursor")


@functools.lru_cache(maxsize=1024)
def _fingerprint(kind: str) -> str:
    # A cursor carries a digest of its list's description (name, filters, order), not
    # the description itself: enough to refuse another list's cursor, and short.
    return hashlib.blake2b(kind.encode(), digest_size=8).hexdigest()


def encode_cursor(kind: str, point: Cursor) -> str:
    # ``[version, fingerprint, reverse, at, {stream: mark, ...}]``, streams in order,
    # written from each mark's JSON (``Mark.pack``).
    marks = point.marks
    payload = b"[%d,%s,%d,%s,{%s}]" % (
        _VERSION,
        orjson.dumps(_fingerprint(kind)),
        int(point.reverse),
        orjson.dumps(point.at),
        b",".join(marks[sid].pack(sid) for sid in sorted(marks)),
    )
    # The same page read again has the same cursors: packed once (a pure function of
    # the payload), kept while the most recent _CURSORS_KEPT others are.
    found = _packed.get(payload)
    if found is not None:
        return found
    # The fastest level with a small window and state: a cursor's few hundred bytes
    # compress as well as at the best level, in a tenth of the time (zlib's default
    # state is 256 KB to set up); any zlib reader reads it.
    packer = zlib.compressobj(1, zlib.DEFLATED, 12, 4)
    packed = packer.compress(payload) + packer.flush()
    cursor = base64.urlsafe_b64encode(packed).decode().rstrip("=")
    if len(_packed) >= _CURSORS_KEPT:
        del _packed[next(iter(_packed))]
    _packed[payload] = cursor
    return cursor


# Cursors packed lately, by payload (``encode_cursor``).
_CURSORS_KEPT = 4096
_packed: dict[bytes, str] = {}


def decode_cursor(kind: str, cursor: str) -> Cursor:
    """The point inside a cursor of list ``kind``."""
    try:
        packed = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        raw = zlib.decompressobj().decompress(packed, _MAX_CURSOR)
        version, cursor_kind, reverse, at, marks = orjson.loads(raw)
        if version != _VERSION or cursor_kind != _fingerprint(kind) or reverse not in (0, 1):
            raise ValueError("not this list's cursor")
        if at is not None and at not in marks:
            raise ValueError("cursor points at no stream")
        decoded = {
            str(sid): Mark(int(hint), _dec(sort), _dec(tiebreak))
            for sid, (hint, sort, tiebreak) in marks.items()
            if isinstance(hint, int) and hint >= 0
        }
        if len(decoded) != len(marks):
            raise ValueError("bad position in cursor")
    except (ValueError, TypeError, binascii.Error, InvalidOperation, zlib.error) as exc:
        raise InvalidCursor(f"{cursor!r} is not a valid cursor for this list") from exc
    return Cursor(bool(reverse), at, decoded)


# --- order -----------------------------------------------------------------------------


# A row's place in its stream: ``(row.sort, row.tiebreak)``, read in C.
_row_key: Callable[[Row[Any]], tuple[Any, Any]] = attrgetter("sort", "tiebreak")


def _after(row: Row[Any], mark: Mark, descending: bool) -> bool:
    """Whether ``row`` comes after the marked row in its stream's order."""
    key, last = _row_key(row), (mark.sort, mark.tiebreak)
    return key < last if descending else key > last


@dataclass(slots=True)
class _Item:
    row: Row[Any]
    stream: str

    def order(self) -> tuple[Any, str, Any]:
        # Within one stream, ties on sort compare tiebreaks of one type; across
        # streams the stream id decides first, so tiebreaks of different types
        # (an int id here, a str id there) are never compared.
        return (self.row.sort, self.stream, self.row.tiebreak)


def _merge_sorted(items: list[_Item], descending: bool) -> list[_Item]:
    """Items in list order; the reverse order is exactly the reverse sequence."""
    return sorted(items, key=_Item.order, reverse=descending)


def _merge_streams(
    streams: Sequence[Stream[Any]], rows_of: Sequence[list[Row[Any]]], descending: bool, take: int
) -> list[_Item]:
    """The first ``take`` items of the streams' rows in list order: what
    ``_merge_sorted`` of all of them starts with, without wrapping and sorting rows past
    the page (a page of 50 over eight streams reads 51 rows of each)."""

    def items(stream: Stream[Any], rows: list[Row[Any]]) -> Iterator[tuple[Any, Row[Any]]]:
        # A stream's rows come in its order; sorting them again is linear when they do,
        # and keeps the merge exact when an upstream breaks ties its own way. Each row
        # goes with its ``_Item.order``: the merge compares those (heads of different
        # streams differ in the stream id, so rows themselves are never compared), and
        # only the rows it keeps become items.
        sid = stream.id
        for row in sorted(rows, key=_row_key, reverse=descending):
            yield (row.sort, sid, row.tiebreak), row

    merged = heapq.merge(
        *(items(s, rows) for s, rows in zip(streams, rows_of, strict=True)),
        reverse=descending,
    )
    return [_Item(row, order[1]) for order, row in islice(merged, take)]


# --- reading ---------------------------------------------------------------------------


async def _resume(
    stream: Stream[Any], mark: Mark | None, need: int
) -> tuple[list[Row[Any]], bool, int | None]:
    """At least ``need`` rows of ``stream`` after ``mark`` (fewer if it ends there)."""
    if mark is None:
        chunk = await stream.fetch(0, need)
        return list(chunk.rows), chunk.exhausted, chunk.total
    start = max(0, mark.hint - _SLACK)
    while True:
        chunk = await stream.fetch(start, need + (mark.hint - start))
        rows = [r for r in chunk.rows if _after(r, mark, stream.descending)]
        found_boundary = len(rows) < len(chunk.rows)
        if start == 0 or found_boundary:
            break
        # Nothing read sits at or before the mark: rows before it were removed upstream
        # (or the list shrank), so the mark lies further back.
        start = max(0, start - max(need, 8 * _SLACK))
    exhausted = chunk.exhausted
    while len(rows) < need and not exhausted and chunk.rows:
        chunk = await stream.fetch(chunk.rows[-1].position + 1, need - len(rows))
        rows += chunk.rows
        exhausted = chunk.exhausted
    return rows, exhausted, chunk.total


async def _window(
    stream: Stream[Any], mark: Mark | None, inclusive: bool, need: int
) -> tuple[list[Row[Any]], bool]:
    """The last ``need`` rows of ``stream`` up to the mark (inclusive or not), and
    whether they reach back to the start of the stream."""
    if mark is None:
        return [], True
    desc = stream.descending
    key = (mark.sort, mark.tiebreak)

    def before_mark(row: Row[Any]) -> bool:
        if _after(row, mark, desc):
            return False
        return inclusive or _row_key(row) != key

    start = max(0, mark.hint - need - _SLACK)
    while True:
        chunk = await stream.fetch(start, mark.hint + _SLACK - start)
        rows = list(chunk.rows)
        # Rows inserted upstream may have pushed the mark past the hint: read on
        # until a row at or after the mark shows up (or the stream ends).
        while rows and before_mark(rows[-1]) and not chunk.exhausted:
            chunk = await stream.fetch(rows[-1].position + 1, need)
            if not chunk.rows:
                break
            rows += chunk.rows
        kept = [r for r in rows if before_mark(r)]
        if len(kept) >= need or start == 0:
            return kept[-need:], start == 0 and len(kept) <= need
        # Rows removed upstream moved the mark back past the window: look further back.
        start = max(0, start - max(need, 8 * _SLACK))


async def _forward(
    kind: str, streams: Sequence[Stream[Any]], point: Cursor | None, count: int, reverse: bool
) -> tuple[list[Edge[Any]], bool, int | None]:
    """``count`` rows after ``point`` in the streams' own direction, merged.

    Each stream is asked for ``count`` rows, not one more to learn whether the list goes
    on: a page of 500 over a source that serves pages of 500 is then one request, not
    two. Whether more follow is nearly always known without that row (rows of other
    streams left over, a stream's total or short last page); only when every row read
    is on the page and a stream without a total cannot tell does one more row get read
    from it.
    """
    marks = dict(point.marks) if point else {}
    with merging(len(streams)):
        fetched = await asyncio.gather(*(_resume(s, marks.get(s.id), count) for s in streams))
    descending = streams[0].descending if streams else True
    ordered = _merge_streams(streams, [rows for rows, _, _ in fetched], descending, count + 1)
    edges: list[Edge[Any]] = []
    for item in ordered[:count]:
        row = item.row
        marks[item.stream] = Mark(row.position + 1, row.sort, row.tiebreak)
        edges.append(Edge(row, kind, Cursor(reverse, item.stream, dict(marks))))
    has_more = len(ordered) > count
    unsure: list[Stream[Any]] = []
    for stream, (_, exhausted, stream_total) in zip(streams, fetched, strict=True):
        if has_more or exhausted:
            continue
        if stream_total is None:
            unsure.append(stream)
            continue
        mark = marks.get(stream.id)
        has_more = stream_total > (mark.hint if mark is not None else 0)
    if not has_more:
        has_more = await _any_beyond(unsure, marks)
    totals = [total for _, _, total in fetched]
    total = sum(t for t in totals if t is not None) if None not in totals else None
    return edges, has_more, total


async def _any_beyond(streams: Sequence[Stream[Any]], marks: dict[str, Mark]) -> bool:
    """Whether any of ``streams`` has a row past its mark (every row read before it is
    on the page, so such a row would come next)."""
    if not streams:
        return False
    found = await asyncio.gather(*(_resume(s, marks.get(s.id), 1) for s in streams))
    return any(rows for rows, _, _ in found)


async def _backward(
    kind: str, streams: Sequence[Stream[Any]], point: Cursor, count: int
) -> tuple[list[Edge[Any]], bool]:
    """The ``count`` rows just before ``point``, merged, in the streams' direction."""
    with merging(len(streams)):
        windows = await asyncio.gather(
            *(_window(s, point.marks.get(s.id), s.id != point.at, count + 1) for s in streams)
        )
    descending = streams[0].descending if streams else True
    items = [_Item(r, s.id) for s, (rows, _) in zip(streams, windows, strict=True) for r in rows]
    ordered = _merge_sorted(items, descending)
    taken = ordered[-count:] if count else []
    earlier = ordered[: len(ordered) - len(taken)]
    marks: dict[str, Mark] = {}
    for item in earlier:
        marks[item.stream] = Mark(item.row.position + 1, item.row.sort, item.row.tiebreak)
    edges: list[Edge[Any]] = []
    for item in taken:
        row = item.row
        marks[item.stream] = Mark(row.position + 1, row.sort, row.tiebreak)
        edges.append(Edge(row, kind, Cursor(point.reverse, item.stream, dict(marks))))
    has_more = bool(earlier) or not all(reached for _, reached in windows)
    return edges, has_more


async def paginate(
    kind: str,
    open_streams: OpenStreams,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Page[Any]:
    """One page of a list. ``open_streams(reverse)`` gives its streams in the list's
    order (``False``) or in the reverse order (``True``); ``kind`` names the list, its
    filters and order, so that a cursor from one list is refused by another."""
    if first is not None and last is not None:
        raise InvalidPaging("pass `first` or `last`, not both")
    if first is not None and before is not None:
        raise InvalidPaging("`before` goes with `last`; use `after` with `first`")
    if last is not None and after is not None:
        raise InvalidPaging("`after` goes with `first`; use `before` with `last`")
    if last is None:
        count = first if first is not None else 0
        point = decode_cursor(kind, after) if after else None
        if point is None or not point.reverse:
            streams = await open_streams(False)
            _known(point, streams)
            edges, more, total = await _forward(kind, streams, point, count, False)
            return Page(edges, more, point is not None, total)
        streams = await open_streams(True)
        _known(point, streams)
        edges, more = await _backward(kind, streams, point, count)
        return Page(list(reversed(edges)), more, True, None)
    point = decode_cursor(kind, before) if before else None
    if point is None or point.reverse:
        streams = await open_streams(True)
        _known(point, streams)
        edges, more, total = await _forward(kind, streams, point, last, True)
        return Page(list(reversed(edges)), point is not None, more, total)
    streams = await open_streams(False)
    _known(point, streams)
    edges, more = await _backward(kind, streams, point, last)
    return Page(edges, True, more, None)


def _known(point: Cursor | None, streams: Sequence[Stream[Any]]) -> None:
    if point is None:
        return
    ids = {s.id for s in streams}
    if any(sid not in ids for sid in point.marks):
        raise InvalidCursor("the cursor does not belong to this list")


async def memory_page(
    kind: str,
    stream_id: str,
    rows: Sequence[Row[T]],
    *,
    descending: bool,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Page[T]:
    """A page of rows already in memory: ``paginate`` over ``memory_streams``. (A first
    page of records in memory is cut without rows by ``schema.inputs.memory_connection``,
    with the same cursors.)"""
    return await paginate(
        kind,
        memory_streams(stream_id, rows, descending=descending),
        first=first,
        after=after,
        last=last,
        before=before,
    )


def memory_streams(stream_id: str, rows: Sequence[Row[T]], *, descending: bool) -> OpenStreams:
    """Streams over rows already in memory, sorted here by ``(sort, tiebreak)``."""
    forward = sorted(rows, key=_row_key, reverse=descending)

    def stream(ordered: Sequence[Row[T]], desc: bool) -> Stream[T]:
        positioned = [Row(i, r.key, r.sort, r.record, r.tiebreak) for i, r in enumerate(ordered)]

        async def fetch(start: int, count: int) -> Chunk[T]:
            return Chunk(positioned[start:], True, len(positioned))

        return Stream(stream_id, fetch, desc)

    streams = {False: [stream(forward, descending)], True: [stream(forward[::-1], not descending)]}

    async def open_streams(reverse: bool) -> Sequence[Stream[Any]]:
        return streams[reverse]

    return open_streams
