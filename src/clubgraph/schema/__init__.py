"""The GraphQL schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import strawberry
from graphql import (
    DocumentNode,
    GraphQLError,
    ObjectTypeDefinitionNode,
    OperationType,
    SchemaDefinitionNode,
    parse,
    print_ast,
)
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.federation.schema import FederationAny
from strawberry.printer import print_schema
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import ExecutionContext, Info
from strawberry.types.fields.resolver import StrawberryResolver

from ..observability import Telemetry
from ..observability.operation import OperationTelemetry
from ..settings import Settings
from .client import Client
from .errors import BadInput, CodedErrors
from .execution import Plans, make_execute
from .invoice import Invoice, InvoiceItem
from .limits import INPUT_SCALARS, QueryLimits
from .live import SubscriptionRoot
from .mutations import Mutation
from .query import Query
from .subscription import Subscription
from .tracing import UpstreamTracing

FEDERATION_VERSION: Literal["2.5"] = "2.5"
ENTITY_NAMES = frozenset({"Client", "Invoice", "InvoiceItem", "Subscription"})


class Schema(strawberry.federation.Schema):
    """Strawberry's schema without its own error log: ``CodedErrors`` logs what is
    unexpected (with its traceback) and upstream failures; a client's bad input is
    the client's to see, not a server error to log."""

    _execute: Callable[..., Any] | None = None
    compiled = True

    def _get_execute_function(self) -> Callable[..., Any]:
        # Queries run on the compiled executor; what it does not handle, on graphql-core.
        if not self.compiled or self.config.enable_experimental_incremental_execution:
            return super()._get_execute_function()
        if self._execute is None:
            self._execute = make_execute(Plans())
        return self._execute

    def serve_subgraph_sdl(self) -> None:
        """Make ``_service { sdl }`` answer ``subgraph_sdl``."""
        service = self._schema.type_map["_Service"]
        field = service.fields["sdl"].extensions[GraphQLCoreConverter.DEFINITION_BACKREF]  # type: ignore[attr-defined]

        def sdl() -> str:
            return self.subgraph_sdl()

        field.base_resolver = StrawberryResolver(sdl)

    def subgraph_sdl(self) -> str:
        """The SDL a gateway composes: the schema without its subscription root, which a
        supergraph cannot hold beside the entity named ``Subscription`` (and gateways
        route queries and mutations; subscriptions are served here directly)."""
        document = parse(print_schema(self))
        kept: list[Any] = []
        for definition in document.definitions:
            if isinstance(definition, ObjectTypeDefinitionNode) and (
                definition.name.value == SubscriptionRoot.__name__
            ):
                continue
            if isinstance(definition, SchemaDefinitionNode):
                definition = SchemaDefinitionNode(
                    description=definition.description,
                    directives=definition.directives,
                    operation_types=tuple(
                        t
                        for t in definition.operation_types
                        if t.operation is not OperationType.SUBSCRIPTION
                    ),
                )
            kept.append(definition)
        return print_ast(DocumentNode(definitions=tuple(kept)))

    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        """Federation's ``_entities``: a representation that names no entity type of this
        subgraph (or is no object at all) fails alone, as a client error."""
        refused: dict[int, FederationAny] = {}
        for index, representation in enumerate(representations):
            if (
                not isinstance(representation, dict)
                or representation.get("__typename") not in ENTITY_NAMES
            ):
                refused[index] = FederationAny(
                    BadInput(
                        "A representation is an object with the `__typename` of an entity "
                        f"({', '.join(sorted(ENTITY_NAMES))}) and one of its keys."
                    )
                )
        accepted = [
            FederationAny(dict(r))  # type: ignore[call-overload]
            for i, r in enumerate(representations)
            if i not in refused
        ]
        resolved = iter(super().entities_resolver(info, accepted))
        return [refused[i] if i in refused else next(resolved) for i in range(len(representations))]

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None


def build_schema(
    *,
    compiled: bool = True,
    settings: Settings | None = None,
    telemetry: Telemetry | None = None,
) -> strawberry.Schema:
    """The clubgraph schema with its extensions; ``compiled`` runs queries on the
    compiled executor (``execution.py``), else all on graphql-core's. ``settings``
    give the query limits and the mode (``schema/limits.py``); the defaults without.
    ``telemetry`` traces and counts every operation and names it in the logs."""
    settings = settings or Settings()
    # First: its operation hook ends last, once the others have coded the errors.
    observed = [OperationTelemetry.factory(telemetry)] if telemetry is not None else []
    # `Subscription` names the entity (a membership or recurring plan); the root
    # operation type for GraphQL subscriptions, when there is one, is `SubscriptionRoot`.
    schema = Schema(
        # An Apollo Federation v2 subgraph: entities by @key, `_service`, `_entities`.
        federation_version=FEDERATION_VERSION,
        query=Query,
        mutation=Mutation,
        subscription=SubscriptionRoot,
        types=[Client, Invoice, InvoiceItem, Subscription],
        # Parsed and validated documents are cached: clients repeat the same operations.
        extensions=[
            *observed,
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            # Depth, aliases, tokens, cost and introspection, before any resolver runs.
            QueryLimits.factory(settings),
            CodedErrors,
            UpstreamTracing,
        ],
        config=StrawberryConfig(auto_camel_case=True),
        # Decimal, Date and DateTime inputs within bounds a bill can have.
        scalar_overrides=dict(INPUT_SCALARS),  # type: ignore[arg-type]
    )
    schema.compiled = compiled
    schema.serve_subgraph_sdl()
    return schema


__all__ = ["build_schema"]
