"""The GraphQL schema."""

from __future__ import annotations

import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from .client import Client
from .errors import CodedErrors
from .invoice import Invoice, InvoiceItem
from .mutations import Mutation
from .query import Query
from .subscription import Subscription
from .tracing import UpstreamTracing


def build_schema() -> strawberry.Schema:
    """The clubgraph schema with its extensions."""
    # `Subscription` names the entity (a membership or recurring plan); the root
    # operation type for GraphQL subscriptions, when there is one, is `SubscriptionRoot`.
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[Client, Invoice, InvoiceItem, Subscription],
        # Parsed and validated documents are cached: clients repeat the same operations.
        extensions=[
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            CodedErrors,
            UpstreamTracing,
        ],
        config=StrawberryConfig(auto_camel_case=True),
    )


__all__ = ["build_schema"]
