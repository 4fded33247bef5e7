"""Upstream JSON that does not map becomes UpstreamBadResponse where JSON becomes records."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from clubgraph.connectors.base import (
    Chunk,
    ClientFilter,
    Connector,
    InvoiceFilter,
    InvoiceOrder,
    Row,
    SortDirection,
    Stream,
    SubscriptionFilter,
)
from clubgraph.connectors.drift import decoding, enum_text
from clubgraph.domain import EntityType, InvoiceRecord, Key, Source
from clubgraph.errors import UpstreamBadResponse, UpstreamUnavailable

KEY = Key(EntityType.INVOICE, Source.TIGHT, "7001", "42")
BODY = {"id": 42, "secret": "do-not-log-me"}


def test_a_mapping_failure_names_the_source_and_the_field_not_the_body() -> None:
    with pytest.raises(UpstreamBadResponse) as caught, decoding(Source.TIGHT, "invoices"):
        BODY["date"]
    error = caught.value
    assert (error.source, error.code) == ("tight", "UPSTREAM_BAD_RESPONSE")
    assert error.message == "invoices did not map: missing field 'date'"
    assert error.body is None
    assert "do-not-log-me" not in str(error)


@pytest.mark.parametrize(
    "fail",
    [
        lambda: int("lots"),
        lambda: Decimal("lots"),
        lambda: len(5),
        lambda: "text".get("x"),
        lambda: [][0],
    ],
)
def test_every_kind_of_drift_is_a_bad_response(fail: Any) -> None:
    with pytest.raises(UpstreamBadResponse), decoding("timetap", "invoice"):
        fail()


def test_other_errors_pass_unchanged() -> None:
    with pytest.raises(UpstreamUnavailable), decoding("tight", "invoices"):
        raise UpstreamUnavailable("tight", "down")
    with pytest.raises(RuntimeError), decoding("tight", "invoices"):
        raise RuntimeError("a bug, not drift")


@pytest.mark.parametrize(
    ("value", "text"),
    [("PAID", "PAID"), (None, ""), (42, "42"), (Decimal("1.5"), "1.5"), (True, "true")],
)
def test_an_enum_value_is_kept_as_text(value: Any, text: str) -> None:
    assert enum_text(value) == text


@pytest.mark.parametrize("value", [{"code": "PAID"}, ["PAID"]])
def test_an_enum_value_that_is_no_scalar_is_drift(value: Any) -> None:
    with pytest.raises(TypeError):
        enum_text(value)


def test_a_row_that_does_not_map_is_known_by_key_only() -> None:
    calls = []

    def make() -> InvoiceRecord:
        calls.append(1)
        raise KeyError("currency")

    row: Row[InvoiceRecord] = Row(0, KEY, 1, make=make)
    assert row.record is None
    assert row.record is None
    assert calls == [1]  # mapped once; read by key from then on


class Drifting(Connector):
    """A connector whose every read meets JSON that does not map."""

    source = Source.TIGHT

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def tenants(self) -> Sequence[str]:
        return [BODY["business"]]

    async def clients(self, keys: Sequence[Key]) -> Sequence[Any]:
        return [BODY["client"]]

    async def invoices(self, keys: Sequence[Key]) -> Sequence[Any]:
        return [int(BODY["secret"])]

    async def invoice_items(self, invoice_keys: Sequence[Key]) -> Sequence[Any]:
        return []

    async def invoice_item(self, keys: Sequence[Key]) -> Sequence[Any]:
        return []

    async def subscriptions(self, keys: Sequence[Key]) -> Sequence[Any]:
        return []

    async def client_invoices(self, client_keys: Sequence[Key]) -> Sequence[Any]:
        return []

    async def client_subscriptions(self, client_keys: Sequence[Key]) -> Sequence[Any]:
        return []

    async def subscription_invoices(self, subscription_keys: Sequence[Key]) -> Sequence[Any]:
        return []

    async def client_streams(
        self, flt: ClientFilter, direction: SortDirection = SortDirection.ASC
    ) -> Sequence[Stream[Any]]:
        return []

    async def invoice_streams(
        self, flt: InvoiceFilter, order: InvoiceOrder
    ) -> Sequence[Stream[Any]]:
        async def fetch(start: int, count: int) -> Chunk[Any]:
            return Chunk([Row(0, KEY, BODY["date"])], True)

        return [Stream("tight:7001", fetch)]

    async def subscription_streams(
        self, flt: SubscriptionFilter, direction: SortDirection = SortDirection.DESC
    ) -> Sequence[Stream[Any]]:
        return []

    def embedded_client(self, invoice: InvoiceRecord) -> Any:
        return BODY["client"]


async def test_a_connector_reads_and_streams_turn_drift_into_bad_responses() -> None:
    connector = Drifting()
    with pytest.raises(UpstreamBadResponse, match="tenants did not map: missing field"):
        await connector.tenants()
    with pytest.raises(UpstreamBadResponse, match="clients did not map"):
        await connector.clients([KEY])
    with pytest.raises(UpstreamBadResponse, match="invoices did not map: ValueError"):
        await connector.invoices([KEY])
    [stream] = await connector.invoice_streams(InvoiceFilter(), InvoiceOrder())
    with pytest.raises(UpstreamBadResponse, match="list tight:7001 did not map"):
        await stream.fetch(0, 1)
    # An embedded client that does not map is not primed: it is read by key instead.
    assert connector.embedded_client(None) is None
