"""List bodies whose rows are decoded when used.

A page of the graph merged over several upstream lists shows a few of the rows each
list sends: a dashboard of 50 invoices over ten lists reads about 500 and shows 50. Most
of a list body's cost is decoding rows into Python objects, so a list read for a merge
is decoded in two steps:

1. ``ListBody`` splits the body into its rows, each kept as the exact JSON text the
   upstream sent (``msgspec.Raw``, a view of the body; the split checks the JSON).
   A body that is an object (``{"data": [...], "total": 9}``) has its other members
   decoded as usual.
2. A ``LazyRow`` decodes, on first read, only the few fields its list is keyed and
   ordered by (``RowSpec.fields``), and the whole row only when something reads a
   field outside them, which is what mapping it into a record does
   (``LazyRow.json()``).

Values are what ``http.loads_exact`` gives (fractions as exact ``Decimal``), whether
read from the head or the whole row, so key and sort values computed from a lazy row
equal those computed from the decoded row. A row that is not an object, or a field of
the head that is missing, raises what reading a decoded row would (``TypeError``,
``KeyError``): drift, reported as such by the caller (``connectors/drift.py``).

Rows read again are not decoded again. A dashboard asks for the same lists over and
over, and most rows come back exactly as they were. The lists read with the shared
``MEMO`` keep the rows they split by their exact JSON text (``RowMemo``, bounded by the
text it holds, the oldest forgotten first; whole bodies too): a row whose text was seen
before is the same ``LazyRow``, with its head and whole row already decoded, and with
the records ``Mapper``s made from it.
A record is a pure function of the row's text and the mapper's arguments (the tenant),
so reusing it gives what mapping it again would; a row that changed upstream has
another text and is decoded and mapped afresh. A mapping that fails is not kept: the
row fails again, as drift, each time it is mapped.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any, Generic, TypeVar

import msgspec

from ..http import loads_exact
from ..settings import DEFAULT_ROW_MEMO_MB

T = TypeVar("T")

_ABSENT: Any = object()
# How much row text the rows memo holds until the settings say (``RowMemo.resize``).
MEMO_BYTES = DEFAULT_ROW_MEMO_MB * 1024 * 1024
_ROWS = msgspec.json.Decoder(list[msgspec.Raw])
# Whether list rows are decoded lazily in this context (see ``merging``).
_LAZY: ContextVar[bool] = ContextVar("clubgraph_lazy_rows", default=True)


@contextmanager
def merging(streams: int) -> Iterator[None]:
    """Reads inside decode list rows lazily only when ``streams`` lists are merged. A
    list read alone shows every row it reads: splitting it into rows, then decoding
    each row's head and the whole row, costs more than decoding it at once."""
    token = _LAZY.set(streams > 1)
    try:
        yield
    finally:
        _LAZY.reset(token)


_MEMBERS = msgspec.json.Decoder(dict[str, msgspec.Raw])


class RowSpec:
    """The fields of a list's rows that are decoded on their own: those its rows are
    keyed, ordered and tie-broken by."""

    __slots__ = ("_head", "fields")

    def __init__(self, *fields: str) -> None:
        self.fields = frozenset(fields)
        head = msgspec.defstruct("Head", [(name, Any, _ABSENT) for name in fields])
        self._head = msgspec.json.Decoder(head, float_hook=Decimal)

    def head(self, raw: msgspec.Raw | bytes) -> dict[str, Any]:
        try:
            struct = self._head.decode(raw)
        except msgspec.ValidationError as exc:
            # Only a row that is not an object fails here (every field is Any).
            raise TypeError(f"a list row is not an object: {exc}") from None
        return {
            name: value
            for name, value in zip(
                struct.__struct_fields__, msgspec.structs.astuple(struct), strict=True
            )
            if value is not _ABSENT
        }


class Mapper(Generic[T]):
    """``fn(row, *args)``: maps a decoded row to a record. Two mappers with the same
    function and arguments are equal, so that a row read again (``RowMemo``) reuses
    the record the same mapping made from it in an earlier request."""

    __slots__ = ("_hash", "args", "fn")

    def __init__(self, fn: Callable[..., T], *args: Any) -> None:
        self.fn = fn
        self.args = args
        self._hash = hash((fn, args))

    def __call__(self, row: Any) -> T:
        return self.fn(row, *self.args)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapper) and self.fn is other.fn and self.args == other.args

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Mapper({getattr(self.fn, '__qualname__', self.fn)!r}, *{self.args!r})"


class LazyRow:
    """One row of a list body, read like the decoded row (``row["id"]``,
    ``row.get("date")``); ``json()`` is the decoded row itself."""

    __slots__ = ("_head", "_json", "_raw", "_reads", "_records", "_spec", "kept")

    def __init__(self, raw: msgspec.Raw | bytes, spec: RowSpec) -> None:
        self._raw = raw
        self._spec = spec
        self._head: dict[str, Any] | None = None
        self._json: Any = _ABSENT
        self._records: dict[Mapper[Any], Any] | None = None
        self._reads: dict[Mapper[Any], Any] | None = None
        # Whether a memo holds the row: only then are its reads and records worth
        # keeping (a row read once is read once).
        self.kept = False

    def read(self, mapper: Mapper[T]) -> T:
        """``mapper(self)``, made once per mapper: a value read from the row's head
        (its key, its sort value), kept only when it could be read."""
        return self._once(mapper, whole=False)

    def mapped(self, mapper: Mapper[T]) -> T:
        """``mapper(self.json())``, made once per mapper (kept only when it maps)."""
        return self._once(mapper, whole=True)

    def _once(self, mapper: Mapper[T], *, whole: bool) -> T:
        made = self._records if whole else self._reads
        if made is None:
            made = {}
            if whole:
                self._records = made
            else:
                self._reads = made
        else:
            found = made.get(mapper, _ABSENT)
            if found is not _ABSENT:
                return found  # type: ignore[no-any-return]
        value = mapper(self.json() if whole else self)
        made[mapper] = value
        return value

    def json(self) -> Any:
        """The whole row, decoded (once)."""
        if self._json is _ABSENT:
            self._json = loads_exact(self._raw)
        return self._json

    def _fields(self, name: str) -> Any:
        if self._json is _ABSENT and name in self._spec.fields:
            head = self._head
            if head is None:
                head = self._head = self._spec.head(self._raw)
            return head
        row = self.json()
        if not isinstance(row, dict):
            raise TypeError(f"a list row is {type(row).__name__}, not an object")
        return row

    def __getitem__(self, name: str) -> Any:
        return self._fields(name)[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self._fields(name).get(name, default)

    def __contains__(self, name: str) -> bool:
        return name in self._fields(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.json())

    def __repr__(self) -> str:
        return f"LazyRow({bytes(self._raw)[:80]!r})"


def full(row: Any) -> Any:
    """A row as decoded JSON, whether it came lazily or not."""
    return row.json() if isinstance(row, LazyRow) else row


def map_row(mapper: Callable[[Any], T], row: Any) -> T:
    """``mapper`` applied to the decoded ``row``: once per row for a ``Mapper`` over a
    ``LazyRow`` a memo holds, every time otherwise."""
    if isinstance(row, LazyRow):
        if row.kept and isinstance(mapper, Mapper):
            record: T = row.mapped(mapper)
            return record
        return mapper(row.json())
    return mapper(row)


def read_row(reader: Callable[[Any], T], row: Any) -> T:
    """``reader(row)`` on the row as it came: once per row for a ``Mapper`` over a
    ``LazyRow`` a memo holds, every time otherwise."""
    if isinstance(row, LazyRow) and row.kept and isinstance(reader, Mapper):
        value: T = row.read(reader)
        return value
    return reader(row)


class RowMemo:
    """The rows a list body was split into, by their exact JSON text.

    Holds at most ``budget`` bytes of row text (and what was decoded and mapped from
    those rows); past it, the rows seen longest ago are forgotten first.
    """

    __slots__ = ("_bodies", "_rows", "_size", "budget")

    def __init__(self, budget: int = MEMO_BYTES) -> None:
        self.budget = budget
        self._rows: dict[bytes, LazyRow] = {}
        # Whole bodies split before, by their length and CRC-32 (several times faster
        # to compute than the hash of a long text), with their text, compared on a
        # match: a list read again unchanged is not even split again.
        self._bodies: dict[tuple[int, int], tuple[bytes, Any]] = {}
        self._size = 0

    def body(self, text: bytes) -> Any:
        """What a body of this exact text was split into, if it is still held."""
        held = self._bodies.get((len(text), zlib.crc32(text)))
        if held is None or held[0] != text:
            return None
        return held[1]

    def keep_body(self, text: bytes, split: Any) -> None:
        if len(text) > self.budget // 4:  # the rows' own texts count too
            return
        key = (len(text), zlib.crc32(text))
        if key in self._bodies:
            return  # another text with the same digest: the first one stays
        self._bodies[key] = (text, split)
        self._size += len(text)
        if self._size > self.budget:
            self._shrink()

    def row(self, raw: msgspec.Raw, spec: RowSpec) -> LazyRow:
        # A copy: the row must not keep the whole body it was cut from alive.
        text = bytes(raw)
        found = self._rows.get(text)
        if found is not None:
            return found
        row = LazyRow(text, spec)
        if len(text) <= self.budget:
            row.kept = True
            self._rows[text] = row
            self._size += len(text)
            if self._size > self.budget:
                self._shrink()
        return row

    def _shrink(self) -> None:
        # Bodies first: each is made of rows that are held on their own as well.
        bodies, rows = self._bodies, self._rows
        while self._size > self.budget and bodies:
            text, _ = bodies.pop(next(iter(bodies)))
            self._size -= len(text)
        while self._size > self.budget and rows:
            oldest = next(iter(rows))
            del rows[oldest]
            self._size -= len(oldest)

    def resize(self, budget: int) -> None:
        """Hold at most ``budget`` bytes of row text from now on."""
        self.budget = budget
        self._shrink()

    def clear(self) -> None:
        self._rows.clear()
        self._bodies.clear()
        self._size = 0

    def __len__(self) -> int:
        """Rows held."""
        return len(self._rows)

    @property
    def size(self) -> int:
        """Bytes of row text held."""
        return self._size


# The rows of every list body read with a memo, shared by the lists of all sources (a
# row seen in two lists is one ``LazyRow``; each reads it through its own mappers).
MEMO = RowMemo()


class ListBody:
    """A decoder for ``UpstreamHTTP.request(decode=...)``: a JSON array of rows, or an
    object whose member ``member`` is that array, with rows as ``LazyRow``.

    With a ``memo`` that holds anything, a row seen before (the same text) is the
    ``LazyRow`` made then, and a list read alone is split into rows too, so that its
    rows are found again. Without one, a list read for a merge is split into rows
    (``merging``) and any other is decoded whole; so is a list that is never merged
    (``merged=False``: a tenant's whole client list, read to find many clients).
    """

    __slots__ = ("member", "memo", "merged", "spec")

    def __init__(
        self,
        spec: RowSpec,
        member: str | None = None,
        memo: RowMemo | None = None,
        *,
        merged: bool = True,
    ) -> None:
        self.spec = spec
        self.member = member
        self.memo = memo
        self.merged = merged

    def __call__(self, body: bytes) -> Any:
        memo = self.memo
        if memo is None or memo.budget <= 0:
            if not self.merged or not _LAZY.get():
                return loads_exact(body)
            return self._split(body, None)
        found = memo.body(body)
        if found is None:
            found = self._split(body, memo)
            memo.keep_body(body, found)
        # A copy of the list (and of the object holding it): the caller's to change.
        if self.member is None:
            return list(found) if isinstance(found, list) else found
        if isinstance(found, dict) and isinstance(found.get(self.member), list):
            return {**found, self.member: list(found[self.member])}
        return found

    def _split(self, body: bytes, memo: RowMemo | None) -> Any:
        if self.member is None:
            return self._rows(body, memo)
        try:
            members = _MEMBERS.decode(body)
        except msgspec.ValidationError:
            return loads_exact(body)  # not an object: left as sent, for the caller to refuse
        out: dict[str, Any] = {}
        for name, raw in members.items():
            out[name] = self._rows(raw, memo) if name == self.member else loads_exact(raw)
        return out

    def _rows(self, raw: bytes | msgspec.Raw, memo: RowMemo | None) -> Any:
        try:
            rows = _ROWS.decode(raw)
        except msgspec.ValidationError:
            # Not an array (null, an object): left as sent, for the caller to refuse.
            return loads_exact(raw)
        spec = self.spec
        if memo is None:
            return [LazyRow(row, spec) for row in rows]
        return [memo.row(row, spec) for row in rows]
