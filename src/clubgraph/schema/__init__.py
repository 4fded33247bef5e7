"""The GraphQL schema."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig

from .errors import CodedErrors
from .query import Query
from .tracing import UpstreamTracing
from .types import Client, Invoice, InvoiceItem, Subscription


def build_schema() -> strawberry.Schema:
    """The clubgraph schema with its extensions."""
    return strawberry.Schema(
        query=Query,
        types=[Client, Invoice, InvoiceItem, Subscription],
        extensions=[CodedErrors, UpstreamTracing],
        config=StrawberryConfig(auto_camel_case=True),
    )


__all__ = ["build_schema"]
