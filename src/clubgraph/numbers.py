"""Exact numbers from upstream JSON: amounts become Decimal without float arithmetic."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


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
