"""How upstream bodies are decoded: every fraction exact, nothing that is not JSON."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clubgraph.http import loads_exact


def test_fractions_are_decimals_as_sent_and_integers_stay_integers() -> None:
    body = b'{"a": 253.45, "b": 0.10, "c": 1e2, "d": 7, "e": 123456789012345678901234567890}'
    assert loads_exact(body) == {
        "a": Decimal("253.45"),
        "b": Decimal("0.10"),
        "c": Decimal("1E+2"),
        "d": 7,
        "e": 123456789012345678901234567890,
    }
    decoded = loads_exact(body)
    # The text the upstream sent, trailing zero and exponent included, not a float's.
    assert [str(decoded[k]) for k in "abc"] == ["253.45", "0.10", "1E+2"]
    assert type(decoded["d"]) is int
    assert loads_exact('{"x": [0.5]}') == {"x": [Decimal("0.5")]}


@pytest.mark.parametrize("body", [b"NaN", b'{"a": Infinity}', b'{"a": 1,}', b"\xff", b"[1] x", b""])
def test_what_is_not_json_is_a_value_error(body: bytes) -> None:
    with pytest.raises(ValueError, match=r"malformed|truncated|invalid"):
        loads_exact(body)
