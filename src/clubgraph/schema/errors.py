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
from ..listing import InvalidCursor
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
        log.warning("upstream error: %s", original)
        message = f"The {original.source} source failed ({original.code})"
        ext = {"code": original.code, "source": original.source}
    elif isinstance(original, InvalidGlobalId | InvalidCursor):
        message, ext = str(original), {"code": "BAD_USER_INPUT"}
    elif isinstance(original, SourceNotConfigured):
        message, ext = str(original), {"code": "SOURCE_NOT_CONFIGURED"}
    else:
        log.error("unexpected error at %s", error.path, exc_info=original)
        message, ext = "Internal server error", {"code": "INTERNAL_SERVER_ERROR"}
    return GraphQLError(message, nodes=error.nodes, path=error.path, extensions=ext)


class CodedErrors(SchemaExtension):
    """Give every error a code, and mask what the client must not see."""

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [_coded(e) for e in result.errors]
