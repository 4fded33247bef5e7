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
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

import msgspec

from ..http import loads_exact

_ABSENT: Any = object()
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

    def head(self, raw: msgspec.Raw) -> dict[str, Any]:
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


class LazyRow:
    """One row of a list body, read like the decoded row (``row["id"]``,
    ``row.get("date")``); ``json()`` is the decoded row itself."""

    __slots__ = ("_head", "_json", "_raw", "_spec")

    def __init__(self, raw: msgspec.Raw, spec: RowSpec) -> None:
        self._raw = raw
        self._spec = spec
        self._head: dict[str, Any] | None = None
        self._json: Any = _ABSENT

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


class ListBody:
    """A decoder for ``UpstreamHTTP.request(decode=...)``: a JSON array of rows, or an
    object whose member ``member`` is that array, with rows as ``LazyRow``."""

    __slots__ = ("member", "spec")

    def __init__(self, spec: RowSpec, member: str | None = None) -> None:
        self.spec = spec
        self.member = member

    def __call__(self, body: bytes) -> Any:
        if not _LAZY.get():
            return loads_exact(body)
        if self.member is None:
            return self._rows(body)
        try:
            members = _MEMBERS.decode(body)
        except msgspec.ValidationError:
            return loads_exact(body)  # not an object: left as sent, for the caller to refuse
        out: dict[str, Any] = {}
        for name, raw in members.items():
            out[name] = self._rows(raw) if name == self.member else loads_exact(raw)
        return out

    def _rows(self, raw: bytes | msgspec.Raw) -> Any:
        try:
            rows = _ROWS.decode(raw)
        except msgspec.ValidationError:
            # Not an array (null, an object): left as sent, for the caller to refuse.
            return loads_exact(raw)
        spec = self.spec
        return [LazyRow(row, spec) for row in rows]
