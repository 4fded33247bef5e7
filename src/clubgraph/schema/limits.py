"""Limits every operation meets before any upstream call, and what production mode hides.

Checked in this order, each refusal a GraphQL error whose ``extensions.code`` names it
and whose message names the limit and its value:

- ``TOO_MANY_TOKENS``: the parser stops after ``max_tokens`` tokens (names, values,
  punctuation and comments), so a huge document costs no more than that to read.
- ``QUERY_TOO_DEEP``: fields nested more than ``max_depth`` levels (fragments
  expanded; ``{ invoices { nodes { id } } }`` is 3 deep).
- ``TOO_MANY_ALIASES``: more than ``max_aliases`` aliased fields in the operation
  (fragments counted where they are spread).
- ``INTROSPECTION_DISABLED`` (production mode only): ``__schema`` and ``__type``;
  ``__typename`` stays allowed.
- ``PAGE_SIZE_EXCEEDED`` / ``BAD_USER_INPUT``: a ``first`` or ``last`` above the
  maximum page size, or negative, anywhere in the operation.
- ``QUERY_TOO_COSTLY``: the estimated cost, below, above ``max_cost``.

The cost model estimates the upstream work of an operation (records loaded, in
upstream calls times page sizes). It walks the operation with its fragments and its
variables' values, carrying a multiplier: how many times the current selection runs,
the product of the page sizes of the lists above it (1 at the root).

- A connection field (a type with ``edges`` and ``pageInfo``) costs its page size
  (``first`` or ``last``; the default page size when neither is given) times the
  multiplier, and multiplies it by its page size for everything under its ``edges``
  and ``nodes``. The connection's own fields (``edges``, ``nodes``, ``node``,
  ``pageInfo``, ``totalCount``, ``cursor``) cost nothing more.
- An entity field (one returning a ``Node`` type, or ``Person``), which may need a
  record load, costs 1 per parent item: the multiplier. ``nodes(ids:)`` costs one per
  id, and other lists of entities (``profiles``) count as ``LIST_ESTIMATE`` items.
- A mutation field costs 1 (the write) plus what its payload selects.
- Other lists of objects multiply what is under them by ``LIST_ESTIMATE``; scalars,
  value objects (``Money``) and ``__typename`` cost nothing; introspection costs
  nothing (it reads no upstream).

So W1 (50 invoices, their lines, their client and the client's subscriptions) costs
50 + 50x50 + 50 + 50x50 = 5,100, and W2 (500 invoices with their lines) 25,500.

Input scalars are bounded too: a ``Decimal`` is finite, below ``DECIMAL_LIMIT`` in
magnitude with at most ``DECIMAL_PLACES`` decimals, and a ``Date`` or ``DateTime``
lies in the years ``MIN_YEAR`` to ``MAX_YEAR``: what lies outside is no amount or
date of a bill, and would fail deep in a connector instead of at the door.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal, DecimalException
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    value_from_ast_untyped,
)
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import SchemaExtension
from strawberry.schema.types.base_scalars import (
    DateDefinition,
    DateTimeDefinition,
    DecimalDefinition,
)
from strawberry.types.scalar import ScalarDefinition

from ..settings import Settings
from .connection import page_size
from .errors import BadInput

# Lists without a page size (`profiles`, `sources`) count as this many items.
LIST_ESTIMATE = 10
# Types whose fields may load a record from an upstream besides the Node types.
LOADED_TYPES = frozenset({"Person"})

DECIMAL_LIMIT = Decimal(10) ** 9
DECIMAL_PLACES = 8
MIN_YEAR, MAX_YEAR = 1900, 2999
# The largest integer a JSON reader keeps exactly (2^53 - 1).
MAX_SHOWN_COST = 2**53 - 1

_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
_TOKENS = re.compile(r"Document contains more than \d+ tokens")


def limit_error(message: str, code: str, **extensions: object) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


# --- walking a document ------------------------------------------------------------


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


class _Depth:
    """Depth of selection sets, fragments expanded; each fragment measured once."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.memo: dict[str, int] = {}
        self.open: set[str] = set()

    def of(self, selection_set: SelectionSetNode | None) -> int:
        deepest = 0
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                # Introspection is counted like any field: its types nest without end.
                deepest = max(deepest, 1 + self.of(sel.selection_set))
            elif isinstance(sel, InlineFragmentNode):
                deepest = max(deepest, self.of(sel.selection_set))
            elif isinstance(sel, FragmentSpreadNode):
                deepest = max(deepest, self.fragment(sel.name.value))
        return deepest

    def fragment(self, name: str) -> int:
        if name in self.memo:
            return self.memo[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.open:  # unknown or a cycle: other rules say so
            return 0
        self.open.add(name)
        self.memo[name] = self.of(fragment.selection_set)
        self.open.discard(name)
        return self.memo[name]


class _Aliases:
    """Aliased fields, counted in every place a fragment is spread."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.memo: dict[str, int] = {}
        self.open: set[str] = set()

    def of(self, selection_set: SelectionSetNode | None) -> int:
        count = 0
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                count += (sel.alias is not None) + self.of(sel.selection_set)
            elif isinstance(sel, InlineFragmentNode):
                count += self.of(sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode):
                count += self.fragment(sel.name.value)
        return count

    def fragment(self, name: str) -> int:
        if name in self.memo:
            return self.memo[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.open:
            return 0
        self.open.add(name)
        self.memo[name] = self.of(fragment.selection_set)
        self.open.discard(name)
        return self.memo[name]


def _operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


def depth_rule(max_depth: int) -> type[ASTValidationRule]:
    class QueryDepthRule(ValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> Any:
            depth = _Depth(_fragments(node))
            for operation in _operations(node):
                try:
                    deepest = depth.of(operation.selection_set)
                except RecursionError:
                    deepest = max_depth + 1
                if deepest > max_depth:
                    name = f" `{operation.name.value}`" if operation.name else ""
                    self.report_error(
                        limit_error(
                            f"The operation{name} nests fields {deepest} levels deep, "
                            f"above the maximum depth of {max_depth}.",
                            "QUERY_TOO_DEEP",
                            maximumDepth=max_depth,
                        )
                    )
            return self.BREAK

    return QueryDepthRule


def aliases_rule(max_aliases: int) -> type[ASTValidationRule]:
    class MaxAliasesRule(ValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> Any:
            aliases = _Aliases(_fragments(node))
            for operation in _operations(node):
                try:
                    count = aliases.of(operation.selection_set)
                except RecursionError:
                    count = max_aliases + 1
                if count > max_aliases:
                    name = f" `{operation.name.value}`" if operation.name else ""
                    self.report_error(
                        limit_error(
                            f"The operation{name} uses {count} aliases, above the maximum "
                            f"of {max_aliases}.",
                            "TOO_MANY_ALIASES",
                            maximumAliases=max_aliases,
                        )
                    )
            return self.BREAK

    return MaxAliasesRule


class NoIntrospectionRule(ValidationRule):
    """Production mode: ``__schema`` and ``__type`` are refused; ``__typename`` is not."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        if node.name.value in ("__schema", "__type"):
            self.report_error(
                GraphQLError(
                    f"Introspection is disabled on this server: `{node.name.value}` "
                    "cannot be queried.",
                    node,
                    extensions={"code": "INTROSPECTION_DISABLED"},
                )
            )


# --- the cost estimate -------------------------------------------------------------


def _unwrap(type_: GraphQLOutputType) -> tuple[GraphQLNamedType, bool]:
    """The named type, and whether a list wraps it."""
    is_list = False
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        is_list = is_list or isinstance(type_, GraphQLList)
        type_ = type_.of_type
    return get_named_type(type_), is_list


def _is_connection(type_: GraphQLNamedType) -> bool:
    return isinstance(type_, GraphQLObjectType) and {"edges", "pageInfo"} <= type_.fields.keys()


def _is_entity(type_: GraphQLNamedType) -> bool:
    if type_.name in LOADED_TYPES or type_.name == "Node":
        return True
    return isinstance(type_, GraphQLObjectType | GraphQLInterfaceType) and any(
        i.name == "Node" for i in type_.interfaces
    )


class Cost:
    """The estimated cost of one operation with its variables (see the module's doc).

    Every selection is costed once at a multiplier of 1 and scaled: the model is linear
    in the multiplier, so a fragment spread in many places is walked only once.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any] | None,
        settings: Settings,
    ) -> None:
        self.schema = schema
        self.fragments = _fragments(document)
        self.variables = dict(variables or {})
        self.settings = settings
        self.memo: dict[str, int] = {}
        # Types whose own fields cost nothing: connections and their edges.
        self.plumbing: set[str] = set()

    def operation(self, operation: OperationDefinitionNode) -> int:
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if name not in self.variables and definition.default_value is not None:
                self.variables[name] = value_from_ast_untyped(definition.default_value)
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return 0
        return self.selections(
            operation.selection_set,
            root,
            writes=operation.operation is OperationType.MUTATION,
        )

    def selections(
        self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType, writes: bool = False
    ) -> int:
        total = 0
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                total += self.field(sel, parent, writes)
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition
                inner = self.schema.get_type(cond.name.value) if cond else parent
                total += self.selections(sel.selection_set, inner or parent, writes)
            elif isinstance(sel, FragmentSpreadNode):
                total += self.fragment(sel.name.value)
        return total

    def fragment(self, name: str) -> int:
        if name not in self.memo:
            fragment = self.fragments.get(name)
            self.memo[name] = 0  # a cycle counts nothing (validation refuses it anyway)
            if fragment is not None:
                parent = self.schema.get_type(fragment.type_condition.name.value)
                if parent is not None:
                    self.memo[name] = self.selections(fragment.selection_set, parent)
        return self.memo[name]

    def field(self, node: FieldNode, parent: GraphQLNamedType, writes: bool) -> int:
        name = node.name.value
        if name.startswith("__") or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType
        ):
            return 0
        definition = parent.fields.get(name)
        if definition is None:
            return 0
        named, is_list = _unwrap(definition.type)
        own = 1 if writes else 0
        if (
            parent.name not in self.plumbing
            and isinstance(named, GraphQLObjectType)
            and _is_connection(named)
        ):
            edges, _ = _unwrap(named.fields["edges"].type)
            self.plumbing.update((named.name, edges.name))
            size = self.page(node)
            return own + size + size * self.selections(node.selection_set, named)
        under = self.selections(node.selection_set, named) if node.selection_set else 0
        if parent.name in self.plumbing:
            return own + under
        if _is_entity(named):
            count = self.count(node) if is_list else 1
            return own + count + count * under
        if is_list:
            return own + LIST_ESTIMATE * under
        return own + under

    def _argument(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                value = argument.value
                if isinstance(value, VariableNode):
                    return self.variables.get(value.name.value)
                if isinstance(value, IntValueNode):
                    return int(value.value)
                if isinstance(value, ListValueNode):
                    return list(value.values)
                return value_from_ast_untyped(value, self.variables)
        return None

    def page(self, node: FieldNode) -> int:
        """The page size a connection field asks for; out of bounds is refused here,
        with the error the field's resolver would give."""
        settings = self.settings
        sizes = []
        for name in ("first", "last"):
            value = self._argument(node, name)
            if isinstance(value, int) and not isinstance(value, bool):
                sizes.append(page_size(value, 0, settings.max_page_size, name))
        return max(sizes) if sizes else settings.default_page_size

    def count(self, node: FieldNode) -> int:
        ids = self._argument(node, "ids")
        return len(ids) if isinstance(ids, list) else LIST_ESTIMATE


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    settings: Settings,
) -> int:
    """The cost of the operation that would run (see the module's doc)."""
    operations = _operations(document)
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1:
        return 0  # graphql-core refuses to pick one, before any resolver runs
    return Cost(schema, document, variables, settings).operation(operations[0])


# --- the extension -----------------------------------------------------------------


def _without_suggestions(error: GraphQLError) -> GraphQLError:
    message = _SUGGESTION.sub("", error.message)
    if message == error.message:
        return error
    return GraphQLError(
        message,
        error.nodes,
        error.source,
        error.positions,
        error.path,
        error.original_error,
        error.extensions,
    )


class QueryLimits(SchemaExtension):
    """The limits above, and production mode's silence about the schema.

    Register it after ``ValidationCache``; the validation rules it adds are made once
    per schema, so validated documents stay cached.
    """

    def __init__(self, settings: Settings, rules: tuple[type[ASTValidationRule], ...]) -> None:
        self.settings = settings
        self.rules = rules

    @classmethod
    def factory(cls, settings: Settings) -> Any:
        rules: list[type[ASTValidationRule]] = [
            depth_rule(settings.max_depth),
            aliases_rule(settings.max_aliases),
        ]
        if not settings.sandbox_mode:
            rules.append(NoIntrospectionRule)
        frozen = tuple(rules)
        return lambda: cls(settings, frozen)

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.settings.max_tokens
        context.validation_rules = (*context.validation_rules, *self.rules)
        try:
            yield
        except GraphQLSyntaxError as error:
            raise self._syntax_error(error) from None
        result = context.result
        if result is not None and result.errors:
            result.errors = [self._shown(e) for e in result.errors]

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.result is None:
            error = self._cost_error(document)
            if error is not None:
                # Set before execution starts: the executor is not called at all.
                context.result = ExecutionResult(data=None, errors=[error])
        yield

    def _cost_error(self, document: DocumentNode) -> GraphQLError | None:
        context = self.execution_context
        maximum = self.settings.max_cost
        try:
            cost = estimate_cost(
                context.schema._schema,
                document,
                context.operation_name,
                context.variables,
                self.settings,
            )
        except BadInput as error:
            return error
        except RecursionError:
            cost = maximum + 1
        if cost <= maximum:
            return None
        # Fragments spread twice in a chain double the cost at each step: what is shown
        # stays a number every JSON reader can hold.
        shown = f"at least {MAX_SHOWN_COST}" if cost > MAX_SHOWN_COST else str(cost)
        return limit_error(
            f"The operation's estimated cost is {shown}, above the maximum of {maximum}: "
            "ask for smaller pages (`first`/`last`) or fewer nested lists.",
            "QUERY_TOO_COSTLY",
            cost=min(cost, MAX_SHOWN_COST),
            maximumCost=maximum,
        )

    def _syntax_error(self, error: GraphQLSyntaxError) -> GraphQLError:
        if _TOKENS.search(error.message):
            maximum = self.settings.max_tokens
            return limit_error(
                f"The document has more than {maximum} tokens, the maximum; "
                "send a shorter operation.",
                "TOO_MANY_TOKENS",
                maximumTokens=maximum,
            )
        return GraphQLError(
            error.message,
            source=error.source,
            positions=error.positions,
            extensions={"code": "GRAPHQL_PARSE_FAILED"},
        )

    def _shown(self, error: GraphQLError) -> GraphQLError:
        if isinstance(error, GraphQLSyntaxError):
            error = self._syntax_error(error)
        if not self.settings.sandbox_mode:
            error = _without_suggestions(error)
        return error


# --- bounded input scalars ---------------------------------------------------------


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise StrawberryInputCoercionError(
            f'Value cannot represent a Decimal: "{value}". Expected a decimal string.'
        )
    text = str(value).strip()
    try:
        number = Decimal(text)
    except DecimalException:
        number = None
    if number is None or not number.is_finite():
        raise StrawberryInputCoercionError(
            f'Value cannot represent a Decimal: "{text[:40]}". Expected a finite number '
            'such as "49.95".'
        )
    if abs(number) >= DECIMAL_LIMIT:
        raise StrawberryInputCoercionError(
            f'Value cannot represent a Decimal: "{text[:40]}". Its magnitude must be '
            f"below {DECIMAL_LIMIT:,}."
        )
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if exponent > 0:
        return number.quantize(Decimal(1))  # 1E+3 -> 1000
    if exponent < -DECIMAL_PLACES and number != number.quantize(Decimal(1).scaleb(-DECIMAL_PLACES)):
        raise StrawberryInputCoercionError(
            f'Value cannot represent a Decimal: "{text[:40]}". At most {DECIMAL_PLACES} '
            "decimal places."
        )
    return number


def _in_years(value: dt.date, kind: str, text: str) -> None:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise StrawberryInputCoercionError(
            f'Value cannot represent a {kind}: "{text}". Years {MIN_YEAR} to {MAX_YEAR} only.'
        )


def _parsed(definition: ScalarDefinition, value: object) -> Any:
    assert definition.parse_value is not None
    return definition.parse_value(value)


def _date(value: object) -> dt.date:
    day = _parsed(DateDefinition, value)
    assert isinstance(day, dt.date)
    _in_years(day, "Date", str(value))
    return day


def _datetime(value: object) -> dt.datetime:
    moment = _parsed(DateTimeDefinition, value)
    assert isinstance(moment, dt.datetime)
    _in_years(moment, "DateTime", str(value))
    return moment


INPUT_SCALARS: dict[object, ScalarDefinition] = {
    Decimal: dataclasses.replace(
        DecimalDefinition,
        description=(
            f'Exact decimal as a string, e.g. "49.95": finite, below {DECIMAL_LIMIT:,} '
            f"in magnitude, at most {DECIMAL_PLACES} decimal places."
        ),
        parse_value=_decimal,
    ),
    dt.date: dataclasses.replace(
        DateDefinition,
        description=f"Date (ISO 8601, e.g. 2026-10-01), years {MIN_YEAR} to {MAX_YEAR}.",
        parse_value=_date,
    ),
    dt.datetime: dataclasses.replace(
        DateTimeDefinition,
        description=(
            f"Date with time (ISO 8601, e.g. 2026-10-01T00:00:00Z), years {MIN_YEAR} to {MAX_YEAR}."
        ),
        parse_value=_datetime,
    ),
}


__all__ = [
    "INPUT_SCALARS",
    "LIST_ESTIMATE",
    "NoIntrospectionRule",
    "QueryLimits",
    "aliases_rule",
    "depth_rule",
    "estimate_cost",
]
