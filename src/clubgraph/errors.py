"""Exceptions raised at the upstream boundary: one base, flat subclasses.

``error_for_status`` is the one place where an HTTP status becomes an exception.
Bodies and URLs stay on the exception for logs and debugging; the GraphQL layer
turns them into coded errors without leaking them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourceErrorDetail:
    """One error as the source reported it (a ValidationError, an error code, ...)."""

    code: str
    message: str
    field: str | None = None


class UpstreamError(Exception):
    """An upstream call failed."""

    code = "UPSTREAM_ERROR"

    def __init__(
        self,
        source: str,
        message: str,
        *,
        status: int | None = None,
        method: str | None = None,
        url: str | None = None,
        body: str | None = None,
        details: Sequence[SourceErrorDetail] = (),
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.source = source
        self.message = message
        self.status = status
        self.method = method
        self.url = url
        self.body = body
        self.details = tuple(details)
        self.request_id = request_id

    def __str__(self) -> str:
        where = f" {self.method} {self.url}" if self.method else ""
        status = f" -> {self.status}" if self.status is not None else ""
        codes = f" [{', '.join(d.code for d in self.details)}]" if self.details else ""
        return f"{self.source}{where}{status}: {self.message}{codes}"

    def for_log(self) -> str:
        """``str(self)`` without the source's own messages, which may quote what was sent
        (a name, an email address): its error codes and fields say what went wrong."""
        if not self.details:
            return str(self)
        where = f" {self.method} {self.url}" if self.method else ""
        status = f" -> {self.status}" if self.status is not None else ""
        codes = ", ".join(d.code + (f" ({d.field})" if d.field else "") for d in self.details)
        return f"{self.source}{where}{status}: [{codes}]"


def for_log(error: BaseException) -> str:
    """An exception as a log line shows it (an upstream error without the source's
    messages)."""
    return error.for_log() if isinstance(error, UpstreamError) else str(error)


class UpstreamNotFound(UpstreamError):
    code = "NOT_FOUND"


class UpstreamAuthError(UpstreamError):
    code = "UPSTREAM_AUTH"


class UpstreamValidationError(UpstreamError):
    code = "UPSTREAM_VALIDATION"


class UpstreamConflict(UpstreamError):
    code = "UPSTREAM_CONFLICT"


class UpstreamRateLimited(UpstreamError):
    code = "UPSTREAM_RATE_LIMITED"


class UpstreamUnavailable(UpstreamError):
    code = "UPSTREAM_UNAVAILABLE"


class UpstreamTimeout(UpstreamError):
    code = "UPSTREAM_TIMEOUT"


class UpstreamBadResponse(UpstreamError):
    """The upstream answered, but not with what its contract promises."""

    code = "UPSTREAM_BAD_RESPONSE"


_BY_STATUS: dict[int, type[UpstreamError]] = {
    400: UpstreamValidationError,
    401: UpstreamAuthError,
    403: UpstreamAuthError,
    404: UpstreamNotFound,
    409: UpstreamConflict,
    410: UpstreamNotFound,
    422: UpstreamValidationError,
    429: UpstreamRateLimited,
}


def error_for_status(
    source: str,
    status: int,
    *,
    method: str,
    url: str,
    body: str,
    details: Sequence[SourceErrorDetail] = (),
    request_id: str | None = None,
) -> UpstreamError:
    """Map a non-2xx HTTP status to its exception."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = UpstreamUnavailable if status >= 500 else UpstreamError
    message = details[0].message if details else f"HTTP {status}"
    return cls(
        source,
        message,
        status=status,
        method=method,
        url=url,
        body=body,
        details=details,
        request_id=request_id,
    )
