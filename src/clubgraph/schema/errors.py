"""Errors as a client sees them: a message it can show and a code it can branch on.

Upstream failures carry ``extensions { code source }``; unexpected exceptions are
masked. Upstream bodies, URLs and credentials never reach a response.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from ..errors import UpstreamError, UpstreamNotFound
from ..ids import InvalidGlobalId
from ..listing import InvalidCursor, InvalidPaging
from ..loaders import SourceNotConfigured

log = logging.getLogger("clubgraph")


class BadInput(GraphQLError):
    """An argument the client must change (page size, ID, cursor)."""

    def __init__(self, message: str, code: str = "BAD_USER_INPUT") -> None:
        super().__init__(message, extensions={"code": code})


class EntityNotFound(GraphQLError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found", extensions={"code": "NOT_FOUND"})


def _coded(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return error
    if isinstance(original, UpstreamNotFound):
        message, ext = "Not found upstream", {"code": "NOT_FOUND", "source": original.source}
    elif isinstance(original, UpstreamError):
        log.warning("upstream error: %s", original.for_log())
        message = f"The {original.source} source failed ({original.code})"
        ext = {"code": original.code, "source": original.source}
    elif isinstance(original, InvalidGlobalId | InvalidCursor | InvalidPaging):
        message, ext = str(original), {"code": "BAD_USER_INPUT"}
    elif isinstance(original, SourceNotConfigured):
        message, ext = str(original), {"code": "SOURCE_NOT_CONFIGURED"}
    elif isinstance(original, TypeError) and "64-bit range" in str(original):
        # Amounts that fit their inputs but whose products or sums do not fit a source's
        # JSON integers (cents): the client's numbers, not a server fault.
        log.warning("number out of range at %s: %s", error.path, original)
        message = "An amount in the request is too large for the source"
        ext = {"code": "BAD_USER_INPUT"}
    else:
        log.error("unexpected error at %s", error.path, exc_info=original)
        message, ext = "Internal server error", {"code": "INTERNAL_SERVER_ERROR"}
    return GraphQLError(message, nodes=error.nodes, path=error.path, extensions=ext)


def _request_coded(error: GraphQLError, code: str) -> GraphQLError:
    """A code for an error of the request as a whole (no path) that has none."""
    if error.path is not None or (error.extensions or {}).get("code"):
        return error
    return GraphQLError(
        error.message,
        error.nodes,
        error.source,
        error.positions,
        None,
        error.original_error,
        {**(error.extensions or {}), "code": code},
    )


class CodedErrors(SchemaExtension):
    """Give every error a code, and mask what the client must not see.

    An operation refused before it runs is GRAPHQL_VALIDATION_FAILED; variables that do
    not fit their types are BAD_USER_INPUT (the errors of the request as a whole).
    """

    _executed = False

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            code = "BAD_USER_INPUT" if self._executed else "GRAPHQL_VALIDATION_FAILED"
            result.errors = [_request_coded(e, code) for e in result.errors]

    def on_execute(self) -> Iterator[None]:
        self._executed = True
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [_coded(e) for e in result.errors]
