"""Global IDs: opaque, round-tripping, and refused when malformed."""

from __future__ import annotations

import pytest

from clubgraph import ids
from clubgraph.domain import EntityType, Key, Source


@pytest.mark.parametrize(
    "key",
    [
        Key(EntityType.CLIENT, Source.FITNESSFORCE, "101", "42"),
        Key(EntityType.INVOICE, Source.FITNESSFORCE, "102", "42/88123"),
        Key(EntityType.INVOICE_ITEM, Source.TIMETAP, "50101", "9001/77"),
        Key(EntityType.SUBSCRIPTION, Source.TIGHT, "7001", "inv-1|weird"),
    ],
)
def test_round_trip(key: Key) -> None:
    encoded = ids.encode(key)
    assert "|" not in encoded
    assert "=" not in encoded
    assert ids.decode(encoded) == key
    assert ids.decode(encoded, key.type) == key


@pytest.mark.parametrize("bad", ["", "not-base64!!", "SW52b2ljZQ", ids.encode.__name__])
def test_malformed_ids_are_refused(bad: str) -> None:
    with pytest.raises(ids.InvalidGlobalId, match="not a valid ID"):
        ids.decode(bad)


def test_wrong_type_is_refused() -> None:
    encoded = ids.encode(Key(EntityType.CLIENT, Source.TIGHT, "7001", "5"))
    with pytest.raises(ids.InvalidGlobalId, match="not the ID of a Invoice"):
        ids.decode(encoded, EntityType.INVOICE)
