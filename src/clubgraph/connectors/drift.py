"""Upstream JSON that no longer maps: a coded upstream error, never a crash.

Mapping reads upstream JSON as the source documents it (``raw["currency_code"]``,
``Decimal(raw["rate"])``, ``date.fromisoformat(raw["date"])``). When a source drifts
(a field goes missing, changes type, or holds text that does not parse) those reads
raise ``KeyError``, ``TypeError``, ``ValueError``, ``decimal.InvalidOperation`` and
the like. ``decoding`` turns them into ``UpstreamBadResponse`` naming the source and
what did not map (never the body), at the few places where JSON becomes records: a
connector's reads (``Connector``), a list row's lazy record (``Row.record``) and
lines mapped on first use. An enum value never seen is not drift: mapping keeps it
raw beside an ``UNKNOWN`` member.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal, ParamSpec, TypeVar

from ..domain import Source
from ..errors import UpstreamBadResponse, UpstreamError

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("clubgraph")

# What reading JSON of an unexpected shape raises: a missing key or index (LookupError),
# a value of the wrong type (TypeError, AttributeError), text that does not parse
# (ValueError), a number that does not fit (ArithmeticError: InvalidOperation, Overflow).
DRIFT: tuple[type[Exception], ...] = (
    LookupError,
    TypeError,
    AttributeError,
    ValueError,
    ArithmeticError,
)
# An exception's text can quote a value of the body: a little of it, never more.
_MAX_DETAIL = 160


def enum_text(value: Any) -> str:
    """An enum field's upstream value as the text kept beside the unified value.

    A value never seen maps to ``UNKNOWN`` with this text kept: a string as sent, a
    number or boolean as its JSON text, null (or absent) as ``""``. An object or an
    array is no enum value: ``TypeError``, i.e. drift.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    raise TypeError(f"an enum value is text, not {type(value).__name__}")


def describe(exc: BaseException) -> str:
    """What did not map, in a few words (a missing field, a value that did not parse)."""
    if isinstance(exc, KeyError) and exc.args:
        detail = f"missing field {exc.args[0]!r}"
    else:
        detail = f"{type(exc).__name__}: {exc}"
    return detail if len(detail) <= _MAX_DETAIL else detail[: _MAX_DETAIL - 3] + "..."


def bad_response(source: Source | str, what: str, exc: BaseException) -> UpstreamBadResponse:
    """The error a mapping failure becomes."""
    name = source.value if isinstance(source, Source) else source
    return UpstreamBadResponse(name, f"{what} did not map: {describe(exc)}")


class decoding:
    """Turn a mapping failure inside the block into ``UpstreamBadResponse``.

    ``what`` says what was being read (``"invoices"``, ``"Invoice 5001/81"``), or gives
    it when called (made only on failure); upstream errors raised in the block pass
    unchanged. A class, not a generator: it is entered once per row mapped.
    """

    __slots__ = ("source", "what")

    def __init__(self, source: Source | str, what: str | Callable[[], str]) -> None:
        self.source = source
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, traceback: Any) -> Literal[False]:
        if exc is None or isinstance(exc, UpstreamError) or not isinstance(exc, DRIFT):
            return False
        what = self.what if isinstance(self.what, str) else self.what()
        error = bad_response(self.source, what, exc)
        log.warning("%s", error, exc_info=exc)
        raise error from exc


def decoded(source: Source | str, what: str, fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` with its mapping failures turned into ``UpstreamBadResponse``."""

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        with decoding(source, what):
            return fn(*args, **kwargs)

    return call
