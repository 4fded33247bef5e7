"""A compiled executor for queries: the same answers as graphql-core's, at a fraction of
the cost per field.

graphql-core resolves every field through several layers of Python (the field's
middleware chain, Strawberry's resolver wrapper with a fresh ``Info``, argument
conversion, an awaitable check, then ``complete_value``) and gathers every async
field into an asyncio task. Over 500 invoices with their lines that is tens of
microseconds per field. This executor does the same work with less:

- **A plan per operation.** A query's selection sets are collected once per parsed
  document (fragments, inline fragments, ``@skip``/``@include`` folded in) into field
  plans: response key, the resolver to call, and how to complete its value (leaf
  serialiser, object, list, abstract type, nullability). The plan lives as long as the
  parsed document in the parser cache.
- **Arguments per request, not per object.** A field's arguments do not depend on the
  object it is resolved on, so they are coerced and converted once per request.
- **No awaitable per field.** An ``async`` resolver whose data is already loaded never
  suspends: its coroutine is driven by hand (``send(None)``) and finishes at once,
  without a task or an event-loop turn. One that does suspend (on a DataLoader) is
  parked; when nothing is left that can run, the executor waits for every parked
  coroutine's future at once, resumes them all, and continues. Every ``load`` of a
  round is issued in the same loop turn, so the DataLoaders batch them as one.
- **Errors as graphql-core makes them**: a failing field is null with an error carrying
  its path and location; a null in a non-null position nulls the nearest nullable
  parent.

What it does not handle it hands to graphql-core, whole: mutations and subscriptions,
introspection (``__schema``, ``__type``), directives other than ``@skip``/``@include``,
fields with Strawberry field extensions or permission classes, resolver middleware, and
variables that fail coercion (graphql-core reports those). ``execute`` is the function
Strawberry calls in place of graphql-core's ``execute``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from types import CoroutineType
from typing import Any, TypeGuard

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    VariableNode,
    is_abstract_type,
    located_error,
)
from graphql import (
    execute as graphql_execute,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.pyutils import Path
from graphql.utilities import type_from_ast
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField
from strawberry.types.info import Info

from .node import RECORD_READ

_BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF
_PLANS_KEPT = 256

# How a field's value is completed.
_LEAF, _OBJECT, _LIST, _ABSTRACT = range(4)
# How a field's value is obtained. ``_SELF_CALL``: a plain (not async) resolver of the
# object alone, without arguments or info (``Node.id``, ``Connection.nodes``).
_ATTRIBUTE, _RESOLVER_WITH_SELF, _RESOLVER, _TYPENAME_FIELD, _RECORD, _SELF_CALL = range(6)


class Unsupported(Exception):
    """The operation uses something this executor leaves to graphql-core."""


@dataclass(slots=True, eq=False)
class Shape:
    """How to complete a value of one output type."""

    kind: int
    nullable: bool
    type: Any  # the named or list type (unwrapped of non-null)
    serialize: Callable[[Any], Any] | None = None
    of: Shape | None = None
    # A leaf whose value of exactly this type is its own serialization (a ``str`` for
    # String and ID, a ``bool`` for Boolean): put in the answer without a call.
    exact: type | None = None


# graphql-core's own String, ID and Boolean (the schema's, unless overridden): each
# serializes a value of this type as the value itself.
_EXACT: dict[Any, type] = {
    GraphQLString.coerce_output_value: str,
    GraphQLID.coerce_output_value: str,
    GraphQLBoolean.coerce_output_value: bool,
}


def shape_of(type_: GraphQLOutputType) -> Shape:
    nullable = True
    if isinstance(type_, GraphQLNonNull):
        nullable, type_ = False, type_.of_type
    if isinstance(type_, GraphQLList):
        return Shape(_LIST, nullable, type_, of=shape_of(type_.of_type))
    if isinstance(type_, GraphQLEnumType):
        return Shape(_LEAF, nullable, type_, serialize=_enum_serializer(type_))
    if isinstance(type_, GraphQLScalarType):
        serialize = type_.coerce_output_value
        return Shape(_LEAF, nullable, type_, serialize=serialize, exact=_EXACT.get(serialize))
    if isinstance(type_, GraphQLObjectType):
        return Shape(_OBJECT, nullable, type_)
    if is_abstract_type(type_):
        return Shape(_ABSTRACT, nullable, type_)
    raise Unsupported(f"output type {type_}")


def _enum_serializer(type_: GraphQLEnumType) -> Callable[[Any], Any]:
    """An enum's names by value in a table (Strawberry's enum type searches its values
    one by one for each output)."""
    names: dict[Any, str] = {}
    wrapped = getattr(type_, "wrapped_cls", None)
    for name, value in type_.values.items():
        names[value.value] = name
        if wrapped is not None:
            for member in wrapped:
                if member.value == value.value:
                    names[member] = name
    coerce = type_.coerce_output_value

    def serialize(value: Any) -> Any:
        try:
            return names[value]
        except (KeyError, TypeError):
            return coerce(value)

    return serialize


@dataclass(slots=True, eq=False)
class FieldPlan:
    """One response key of one object type's selection."""

    key: str
    name: str
    nodes: tuple[FieldNode, ...]
    parent: GraphQLObjectType
    definition: GraphQLField | None  # None for __typename
    shape: Shape | None
    # How the value is obtained: an attribute, a resolver (with or without the
    # object), or the type's name.
    mode: int = 0
    # The Python attribute read when the field has no resolver.
    attribute: str | None = None
    # The resolver is ``async def``: its result is a coroutine to drive.
    is_async: bool = False
    # A ``record_field``: the record's attribute and its wrap (node.py).
    record_read: tuple[str, Callable[[Any], Any] | None] | None = None
    # The resolver, called as resolver(source, **kwargs) or resolver(**kwargs).
    resolver: Callable[..., Any] | None = None
    passes_self: bool = False
    # The shape's ``exact`` type for a leaf (a value of it is its own serialization).
    exact: type | None = None
    strawberry_field: StrawberryField | None = None
    info_parameter: str | None = None
    sub_selections: tuple[SelectionSetNode, ...] = ()
    # Selections of the sub-object per concrete type (filled on first use).
    children: dict[str, list[FieldPlan]] = field(default_factory=dict)


class Operation:
    """A query compiled against the schema, shared by every request that sends it."""

    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
    ) -> None:
        self.schema = schema
        self.document = document
        operation = _operation(document, operation_name)
        if operation.operation is not OperationType.QUERY:
            raise Unsupported("only queries")
        self.operation = operation
        self.fragments: dict[str, FragmentDefinitionNode] = {}
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                if definition.variable_definitions:
                    raise Unsupported("fragment variables")
                self.fragments[definition.name.value] = definition
        root = schema.query_type
        if root is None:
            raise Unsupported("no query type")
        self.root = root
        # The whole plan is compiled now, so that what this executor does not handle is
        # known before any resolver runs. A plan that depends on variables (@skip or
        # @include on a variable) is compiled again for each request; every other once.
        self.static = not _directives_use_variables(document)
        self._root_fields = self.compile(None)

    def root_fields(self, variables: VariableValues) -> list[FieldPlan]:
        return self._root_fields if self.static else self.compile(variables)

    def compile(self, variables: VariableValues | None) -> list[FieldPlan]:
        """The root's field plans with every sub-selection's, per concrete type."""
        fields = self.collect(self.root, (self.operation.selection_set,), variables)
        todo = list(fields)
        while todo:
            plan = todo.pop()
            shape = plan.shape
            while shape is not None and shape.kind == _LIST:
                shape = shape.of
            if shape is None or shape.kind == _LEAF:
                continue
            types = (
                [shape.type]
                if shape.kind == _OBJECT
                else list(self.schema.get_possible_types(shape.type))
            )
            for type_ in types:
                children = self.collect(type_, plan.sub_selections, variables)
                plan.children[type_.name] = children
                todo.extend(children)
        return fields

    def collect(
        self,
        type_: GraphQLObjectType,
        selection_sets: Iterable[SelectionSetNode],
        variables: VariableValues | None,
    ) -> list[FieldPlan]:
        grouped: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()
        for selection_set in selection_sets:
            self._collect(type_, selection_set, variables, grouped, visited)
        return [self._plan(type_, key, nodes) for key, nodes in grouped.items()]

    def _collect(
        self,
        type_: GraphQLObjectType,
        selection_set: SelectionSetNode,
        variables: VariableValues | None,
        grouped: dict[str, list[FieldNode]],
        visited: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if not _included(selection, variables):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self._applies(selection, type_):
                    self._collect(type_, selection.selection_set, variables, grouped, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in visited:
                    continue
                visited.add(name)
                fragment = self.fragments.get(name)
                if fragment is not None and self._applies(fragment, type_):
                    self._collect(type_, fragment.selection_set, variables, grouped, visited)
            else:  # pragma: no cover - no other selection kinds exist
                raise Unsupported(type(selection).__name__)

    def _applies(
        self, fragment: InlineFragmentNode | FragmentDefinitionNode, type_: GraphQLObjectType
    ) -> bool:
        if fragment.type_condition is None:
            return True
        condition = type_from_ast(self.schema, fragment.type_condition)
        if condition is type_:
            return True
        if is_abstract_type(condition):
            return self.schema.is_sub_type(condition, type_)  # type: ignore[arg-type]
        return False

    def _plan(self, parent: GraphQLObjectType, key: str, nodes: list[FieldNode]) -> FieldPlan:
        name = nodes[0].name.value
        sub = tuple(n.selection_set for n in nodes if n.selection_set is not None)
        if name == "__typename":
            return FieldPlan(key, name, tuple(nodes), parent, None, None, mode=_TYPENAME_FIELD)
        if name.startswith("__"):
            raise Unsupported("introspection")
        definition = parent.fields[name]
        plan = FieldPlan(
            key,
            name,
            tuple(nodes),
            parent,
            definition,
            shape_of(definition.type),
            sub_selections=sub,
        )
        assert plan.shape is not None
        if plan.shape.kind == _LEAF:
            plan.exact = plan.shape.exact
        strawberry_field = definition.extensions.get(_BACKREF)
        if not isinstance(strawberry_field, StrawberryField):
            raise Unsupported(f"{parent.name}.{name} is not a Strawberry field")
        if strawberry_field.extensions or strawberry_field.permission_classes:
            raise Unsupported(f"{parent.name}.{name} has field extensions")
        resolver = strawberry_field.base_resolver
        if resolver is None:
            plan.attribute = strawberry_field.python_name
            return plan
        if resolver.parent_parameter is not None or resolver.root_parameter is not None:
            raise Unsupported(f"{parent.name}.{name} asks for its parent")
        function = resolver.wrapped_func
        if isinstance(function, staticmethod | classmethod):
            raise Unsupported(f"{parent.name}.{name} resolves with a static or class method")
        plan.resolver = function
        plan.passes_self = resolver.self_parameter is not None
        plan.mode = _RESOLVER_WITH_SELF if plan.passes_self else _RESOLVER
        plan.is_async = inspect.iscoroutinefunction(function)
        record_read = getattr(function, RECORD_READ, None)
        if record_read is not None and plan.passes_self:
            plan.record_read = record_read
            plan.mode = _RECORD
        plan.strawberry_field = strawberry_field
        info = resolver.info_parameter
        plan.info_parameter = info.name if info is not None else None
        if (
            plan.mode == _RESOLVER_WITH_SELF
            and not plan.is_async
            and not definition.args
            and info is None
            and len(inspect.signature(function).parameters) == 1
        ):
            plan.mode = _SELF_CALL
        return plan


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        if len(operations) != 1:
            raise Unsupported("operation to run is ambiguous")
        return operations[0]
    for operation in operations:
        if operation.name is not None and operation.name.value == name:
            return operation
    raise Unsupported(f"no operation named {name}")


def _included(node: Any, variables: VariableValues | None) -> bool:
    directives = node.directives
    if not directives:
        return True
    for directive in directives:
        name = directive.name.value
        if name not in ("skip", "include"):
            raise Unsupported(f"@{name}")
        (argument,) = directive.arguments
        value = argument.value
        if isinstance(value, VariableNode):
            condition = variables is None or bool(variables.coerced.get(value.name.value))
        else:
            condition = bool(getattr(value, "value", False))
        if (name == "skip") == condition:
            return False
    return True


def _directives_use_variables(document: DocumentNode) -> bool:
    found = False

    def walk(node: Any) -> None:
        nonlocal found
        for directive in getattr(node, "directives", None) or ():
            for argument in directive.arguments:
                if isinstance(argument.value, VariableNode):
                    found = True
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            for selection in selection_set.selections:
                walk(selection)

    for definition in document.definitions:
        walk(definition)
    return found


# Where an object or list sits in the response, for paths and null propagation: a
# plain tuple (parent slot, container, key, nullable), one per object and list, built
# without a call. The root's is (None, None, None, False). A slot nulled by propagation
# is "dead" (``Run.dead``): errors below it are not reported.
Slot = tuple[Any, Any, Any, bool]
_ROOT: Slot = (None, None, None, False)


def _slot_path(slot: Slot, last: str | int) -> Path:
    keys: list[str | int] = [last]
    current: Slot | None = slot
    while current is not None and current[2] is not None:
        keys.append(current[2])
        current = current[0]
    path: Path | None = None
    for key in reversed(keys):
        path = Path(path, key, None)
    assert path is not None
    return path


class _NullPropagated(Exception):
    """The root itself became null."""


class _Parked:
    __slots__ = ("coroutine", "out", "plan", "slot", "waiting")

    def __init__(
        self,
        coroutine: Coroutine[Any, Any, Any],
        waiting: Any,
        plan: FieldPlan,
        out: dict[str, Any],
        slot: Slot,
    ) -> None:
        self.coroutine = coroutine
        self.waiting = waiting
        self.plan = plan
        self.out = out
        self.slot = slot


class Run:
    """One execution of an operation."""

    def __init__(
        self,
        operation: Operation,
        variables: VariableValues,
        context: Any,
        root_value: Any,
    ) -> None:
        self.operation = operation
        self.variables = variables
        self.context = context
        self.root_value = root_value
        self.errors: list[GraphQLError] = []
        self.parked: list[_Parked] = []
        self.dead: dict[int, Slot] = {}  # slots nulled by propagation, by id
        self.kwargs: dict[FieldPlan, dict[str, Any] | GraphQLError] = {}
        self.data: dict[str, Any] | None = {}
        raw = GraphQLResolveInfo(
            field_name="",
            field_nodes=[],
            return_type=None,  # type: ignore[arg-type]
            parent_type=operation.root,
            path=None,  # type: ignore[arg-type]
            schema=operation.schema,
            fragments=operation.fragments,
            root_value=root_value,
            operation=operation.operation,
            variable_values=variables,
            context=context,
            is_awaitable=_is_awaitable,
            abort_signal=None,
            async_helpers=None,  # type: ignore[arg-type]
        )
        self.raw_info = raw

    async def execute(self) -> ExecutionResult:
        data = self.data
        assert data is not None
        root = _ROOT
        try:
            self.object(self.operation.root_fields(self.variables), self.root_value, data, root)
            await self.drain()
        except _NullPropagated:
            self.data = None
        finally:
            for parked in self.parked:
                parked.coroutine.close()
        return ExecutionResult(self.data, self.errors or None)

    async def drain(self) -> None:
        """Resume parked resolvers, a round at a time, until none is left."""
        while self.parked:
            parked, self.parked = self.parked, []
            waiting = {p.waiting for p in parked if p.waiting is not None}
            if waiting:
                await asyncio.wait(waiting)
            else:
                await asyncio.sleep(0)
            for p in parked:
                try:
                    p.waiting = p.coroutine.send(None)
                except StopIteration as done:
                    self.complete(p.plan, p.plan.shape, done.value, p.out, p.plan.key, p.slot)
                except Exception as error:
                    self.field_error(error, p.plan, p.out, p.plan.key, p.slot)
                else:
                    self.park(p)

    def park(self, parked: _Parked) -> None:
        """Keep a suspended resolver until what it waits for is done. The future it
        yielded is taken the way an asyncio task takes it."""
        waiting = parked.waiting
        if waiting is not None:
            if not asyncio.isfuture(waiting):
                parked.coroutine.close()
                error = RuntimeError(f"a resolver awaited {type(waiting).__name__}")
                self.field_error(error, parked.plan, parked.out, parked.plan.key, parked.slot)
                return
            # Another coroutine may await the same future (two fields of one entity
            # wait for the same DataLoader load): as a task would, take the
            # "blocking" mark off, or the next ``await`` of it fails.
            waiting._asyncio_future_blocking = False
        self.parked.append(parked)

    def arguments(self, plan: FieldPlan) -> dict[str, Any] | GraphQLError:
        kwargs = self.kwargs.get(plan)
        if kwargs is not None:
            return kwargs
        strawberry_field = plan.strawberry_field
        assert strawberry_field is not None
        assert plan.definition is not None
        try:
            if plan.definition.args:
                values = get_argument_values(plan.definition, plan.nodes[0], self.variables)
                kwargs = convert_arguments(
                    values,
                    strawberry_field.arguments,
                    scalar_registry=_scalar_registry(self.operation.schema),
                    config=_config(self.operation.schema),
                )
            else:
                kwargs = {}
            if plan.info_parameter is not None:
                # The field's own nodes and types, so that ``info.selected_fields`` works;
                # the path is the one thing left out (it differs from object to object).
                raw = self.raw_info._replace(
                    field_name=plan.name,
                    field_nodes=list(plan.nodes),
                    return_type=plan.definition.type,
                    parent_type=plan.parent,
                )
                kwargs[plan.info_parameter] = Info(_raw_info=raw, _field=strawberry_field)
        except GraphQLError as error:
            kwargs = error
        self.kwargs[plan] = kwargs
        return kwargs

    def object(
        self, fields: Sequence[FieldPlan], source: Any, out: dict[str, Any], slot: Slot
    ) -> None:
        """Resolve ``fields`` on ``source`` into ``out``. The hot loop: a leaf whose value
        is at hand is serialised here; everything else goes through ``complete``."""
        kwargs_of = self.kwargs
        for plan in fields:
            key = plan.key
            mode = plan.mode
            try:
                if mode == _RECORD and (record := source.record) is not None:
                    attribute, wrap = plan.record_read  # type: ignore[misc]
                    value = getattr(record, attribute)
                    if wrap is not None:
                        value = wrap(value)
                elif mode == _ATTRIBUTE:
                    value = getattr(source, plan.attribute)  # type: ignore[arg-type]
                elif mode == _TYPENAME_FIELD:
                    out[key] = plan.parent.name
                    continue
                elif mode == _SELF_CALL:
                    value = plan.resolver(source)  # type: ignore[misc]
                    # Most of these answer a str (an ID, a name): known at once.
                    if (
                        type(value) is not str
                        and _may_be_awaited(type(value))
                        and inspect.isawaitable(value)
                    ):
                        out[key] = None
                        self.parked.append(_Parked(_awaited(value), None, plan, out, slot))
                        continue
                else:
                    kwargs = kwargs_of.get(plan)
                    if kwargs is None:
                        kwargs = self.arguments(plan)
                    if isinstance(kwargs, GraphQLError):
                        raise kwargs
                    resolver = plan.resolver
                    assert resolver is not None
                    value = resolver(**kwargs) if mode == _RESOLVER else resolver(source, **kwargs)
                    if plan.is_async and type(value) is CoroutineType:
                        try:
                            waiting = value.send(None)
                        except StopIteration as done:
                            value = done.value
                        else:
                            out[key] = None  # keeps the key's place in the response
                            self.park(_Parked(value, waiting, plan, out, slot))
                            continue
                    elif _may_be_awaited(type(value)) and inspect.isawaitable(value):
                        out[key] = None
                        self.parked.append(_Parked(_awaited(value), None, plan, out, slot))
                        continue
            except Exception as error:
                self.field_error(error, plan, out, key, slot)
                continue
            if type(value) is plan.exact:  # never for None: ``exact`` is a type or None
                out[key] = value
                continue
            shape = plan.shape
            assert shape is not None
            if value is not None:
                kind = shape.kind
                if kind == _LEAF:
                    try:
                        serialized = shape.serialize(value)  # type: ignore[misc]
                    except Exception as error:
                        self.field_error(error, plan, out, key, slot)
                        continue
                    if serialized is not None and serialized is not Undefined:
                        out[key] = serialized
                        continue
                elif kind == _OBJECT and not isinstance(value, Exception):
                    # ``complete``'s object case, without the call: one per object.
                    child: dict[str, Any] = {}
                    out[key] = child
                    try:
                        self.object(
                            plan.children[shape.type.name],
                            value,
                            child,
                            (slot, out, key, shape.nullable),
                        )
                    except _NullPropagated:
                        raise
                    except Exception as error:
                        self.field_error(error, plan, out, key, slot, shape)
                    continue
            self.complete(plan, shape, value, out, key, slot)

    def complete(
        self,
        plan: FieldPlan,
        shape: Shape | None,
        value: Any,
        container: Any,
        key: str | int,
        slot: Slot,
    ) -> None:
        assert shape is not None
        if value is None:
            container[key] = None
            if not shape.nullable:
                self.null_error(plan, container, key, slot)
            return
        kind = shape.kind
        try:
            if isinstance(value, Exception):  # a resolver's list may hold an item's error
                raise value
            if kind == _LEAF:
                assert shape.serialize is not None
                serialized = shape.serialize(value)
                if serialized is None or serialized is Undefined:
                    raise TypeError(f"{shape.type} cannot represent {value!r}")
                container[key] = serialized
            elif kind == _OBJECT:
                child: dict[str, Any] = {}
                container[key] = child
                fields = plan.children[shape.type.name]
                self.object(fields, value, child, (slot, container, key, shape.nullable))
            elif kind == _LIST:
                if type(value) is list:
                    items = value  # read here, never kept
                elif isinstance(value, str | bytes | dict) or not isinstance(value, Iterable):
                    raise GraphQLError(
                        f"Expected Iterable, but did not find one for field"
                        f" '{plan.parent.name}.{plan.name}'."
                    )
                else:
                    items = list(value)
                result: list[Any] = [None] * len(items)
                container[key] = result
                list_slot = (slot, container, key, shape.nullable)
                of = shape.of
                assert of is not None
                if of.kind != _OBJECT:
                    for index, item in enumerate(items):
                        self.complete(plan, of, item, result, index, list_slot)
                    return
                # A list of objects: ``complete``'s object case inline, item by item.
                fields = plan.children[of.type.name]
                nullable = of.nullable
                for index, item in enumerate(items):
                    if item is None or isinstance(item, Exception):
                        self.complete(plan, of, item, result, index, list_slot)
                        continue
                    child = {}
                    result[index] = child
                    try:
                        self.object(fields, item, child, (list_slot, result, index, nullable))
                    except _NullPropagated:
                        raise
                    except Exception as error:
                        self.field_error(error, plan, result, index, list_slot, of)
            else:
                concrete = self.resolve_type(shape.type, value)
                child = {}
                container[key] = child
                fields = plan.children[concrete.name]
                self.object(fields, value, child, (slot, container, key, shape.nullable))
        except _NullPropagated:
            raise
        except Exception as error:
            self.field_error(error, plan, container, key, slot, shape)

    def resolve_type(self, abstract: GraphQLAbstractType, value: Any) -> GraphQLObjectType:
        definition = getattr(type(value), "__strawberry_definition__", None)
        name = getattr(definition, "name", None)
        type_ = self.operation.schema.get_type(name) if name else None
        if not isinstance(type_, GraphQLObjectType) or not self.operation.schema.is_sub_type(
            abstract, type_
        ):
            raise GraphQLError(
                f"Abstract type '{abstract.name}' must resolve to an Object type at runtime."
            )
        return type_

    def field_error(
        self,
        error: Exception,
        plan: FieldPlan,
        container: Any,
        key: str | int,
        slot: Slot,
        shape: Shape | None = None,
    ) -> None:
        container[key] = None
        if self.is_dead(slot):
            return
        self.errors.append(located_error(error, list(plan.nodes), _slot_path(slot, key).as_list()))
        if not (shape or plan.shape or _TYPENAME).nullable:
            self.propagate(slot)

    def null_error(self, plan: FieldPlan, container: Any, key: str | int, slot: Slot) -> None:
        if self.is_dead(slot):
            return
        message = f"Cannot return null for non-nullable field {plan.parent.name}.{plan.name}."
        self.errors.append(
            located_error(GraphQLError(message), list(plan.nodes), _slot_path(slot, key).as_list())
        )
        self.propagate(slot)

    def is_dead(self, slot: Slot) -> bool:
        dead = self.dead
        current: Slot | None = slot
        while current is not None:
            if id(current) in dead:
                return True
            current = current[0]
        return False

    def propagate(self, slot: Slot) -> None:
        """Null the nearest nullable position at or above ``slot``."""
        current: Slot | None = slot
        while current is not None:
            parent, container, key, nullable = current
            if key is None:  # the root: data itself becomes null
                raise _NullPropagated
            self.dead[id(current)] = current  # kept, so that its id stays its own
            container[key] = None
            if nullable:
                return
            current = parent


_TYPENAME = Shape(_LEAF, False, None)


# Whether a resolver's result type has ``__await__``, by type: resolvers return a few
# types over and over, and ``hasattr`` on one without it raises and catches inside.
_AWAITABLE_TYPES: dict[type, bool] = {}


def _may_be_awaited(kind: type) -> bool:
    known = _AWAITABLE_TYPES.get(kind)
    if known is None:
        known = _AWAITABLE_TYPES[kind] = hasattr(kind, "__await__")
    return known


def _is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    return inspect.isawaitable(value)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _scalar_registry(schema: GraphQLSchema) -> Any:
    return schema._strawberry_schema.schema_converter.scalar_registry  # type: ignore[attr-defined]


def _config(schema: GraphQLSchema) -> Any:
    return schema._strawberry_schema.config  # type: ignore[attr-defined]


class Plans:
    """Compiled operations by parsed document (the parser cache hands out the same
    document object for the same query text) and operation name."""

    def __init__(self, size: int = _PLANS_KEPT) -> None:
        self.size = size
        self._plans: OrderedDict[tuple[int, str | None], tuple[DocumentNode, Operation | None]] = (
            OrderedDict()
        )

    def get(
        self, schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
    ) -> Operation | None:
        key = (id(document), operation_name)
        found = self._plans.get(key)
        if found is not None and found[0] is document:
            self._plans.move_to_end(key)
            return found[1]
        try:
            operation: Operation | None = Operation(schema, document, operation_name)
        except Unsupported:
            operation = None
        self._plans[key] = (document, operation)
        if len(self._plans) > self.size:
            self._plans.popitem(last=False)
        return operation


def make_execute(plans: Plans) -> Callable[..., Any]:
    """The function Strawberry calls to execute a parsed, validated document."""

    async def execute(
        schema: GraphQLSchema,
        document: DocumentNode,
        root_value: Any = None,
        middleware: Any = None,
        variable_values: dict[str, Any] | None = None,
        operation_name: str | None = None,
        context_value: Any = None,
        **kwargs: Any,
    ) -> ExecutionResult:
        operation = plans.get(schema, document, operation_name)
        if operation is not None and not (middleware is not None and middleware.middlewares):
            variables = get_variable_values(
                schema, operation.operation.variable_definitions or (), variable_values or {}
            )
            if isinstance(variables, VariableValues):
                try:
                    return await Run(operation, variables, context_value, root_value).execute()
                except Unsupported:
                    pass
        result = graphql_execute(
            schema,
            document,
            root_value=root_value,
            middleware=middleware,
            variable_values=variable_values,
            operation_name=operation_name,
            context_value=context_value,
            **kwargs,
        )
        if inspect.isawaitable(result):
            return await result  # type: ignore[no-any-return]
        return result

    return execute
