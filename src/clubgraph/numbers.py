"""Exact numbers from upstream JSON: amounts become Decimal without float arithmetic."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

# A run of 16 or more digits and dots, or an exponent, anywhere in a body: a number there
# may carry more than 15 significant digits (or sit outside a double's range). Strings
# match too (an IBAN, a long id); that only sends the body the slow, exact way.
_BEYOND_DOUBLE = re.compile(rb"[0-9][0-9.]{15}|[0-9][eE][-+]?[0-9]")


def loads_exact(raw: bytes | str) -> Any:
    """JSON whose every number is exactly the decimal written in it.

    Most bodies take the fast decoder, and their fractions arrive as floats: a decimal
    of at most 15 significant digits converts to a double and back (shortest repr) to
    itself, so ``exact_decimal`` recovers exactly what was written (``12.50`` is
    ``Decimal("12.5")``, the same number). A body that may hold a number beyond that,
    or an integer beyond 64 bits, is decoded with every fraction as a Decimal
    straight from its text.
    """
    data = raw.encode() if isinstance(raw, str) else raw
    if _BEYOND_DOUBLE.search(data) is None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # integers past 64 bits, or not JSON: the exact decoder says which
    return json.loads(data, parse_float=Decimal)


def exact_decimal(value: object) -> Decimal:
    """A JSON number (or numeric string) as the exact decimal it was written as.

    Connectors decode responses with ``exact_decimals``, so fractions arrive as
    Decimal; a float, should one reach here, is taken by its shortest repr (``12.1``
    stays 12.1), never by its binary value.
    """
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"not a number: {value!r}")
    try:
        return Decimal(repr(value) if isinstance(value, float) else value)
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc
