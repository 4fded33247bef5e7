"""Upstream JSON decodes to exactly the numbers written in it, on both decoding paths."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import pytest

from clubgraph.numbers import exact_decimal, loads_exact


def _exact(value: Any) -> Any:
    """Every number as the Decimal it stands for, the rest unchanged."""
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    if isinstance(value, float | Decimal):
        return exact_decimal(value)
    return value


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 12.50, "b": [1, 2.5, -0.01, 1234567890.12345], "c": "x", "d": null}',
        b"[0.1, 0.2, 0.30000000000000004, -0.0]",
        b'{"big": 123456789012345678901234567890, "n": 99999999999999999999.99}',
        b'{"e": 1.5E2, "f": 2e-3}',
        b'{"iban": "NL91ABNA0417164300123456", "amount": 10.10}',
        '{"text": "caf\u00e9", "amount": 3.3}',
    ],
)
def test_every_number_is_the_decimal_written(body: bytes | str) -> None:
    assert _exact(loads_exact(body)) == _exact(json.loads(body, parse_float=Decimal))


def test_fractions_of_up_to_fifteen_digits_survive_the_fast_path() -> None:
    rng = random.Random(20261122)
    for _ in range(20_000):
        digits = rng.randint(1, 15)
        scale = rng.randint(1, digits)
        units = rng.randrange(10**digits)
        sign = "-" if rng.random() < 0.5 else ""
        text = f"{sign}{units // 10**scale}.{str(units % 10**scale).zfill(scale)}"
        (value,) = loads_exact(f"[{text}]".encode())
        assert exact_decimal(value) == Decimal(text), text


def test_numbers_past_a_double_take_the_exact_path() -> None:
    (value,) = loads_exact(b"[0.1234567890123456789]")
    assert value == Decimal("0.1234567890123456789")
    (big,) = loads_exact(b"[18446744073709551616123]")
    assert big == 18446744073709551616123


def test_a_body_that_is_not_json_is_refused() -> None:
    for body in (b'{"a": 1', b"<html>", b"", b'{"a": 1.5'):
        with pytest.raises(ValueError, match=r"."):
            loads_exact(body)
