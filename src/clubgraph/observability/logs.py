"""Structured logs: one JSON object a line, each carrying the request's id, operation and
caller, and no secret in any log line whatever its format.

- ``RequestIds`` (ASGI middleware) takes a request's ``X-Request-ID`` when it is a
  plausible id, or makes one, and answers it in the response's ``X-Request-ID``; the
  operation extension (``operation.py``) adds the operation's name and the caller.
  Context variables carry them to every line logged while the request is served, in
  loader batches too (tasks copy their context).
- ``Redact`` masks bearer tokens, JWTs, the values of keys named like a credential
  (``apiKey``, ``api_key``, ``password``, ``secret``, ``token``, ...), passwords in URLs
  and email addresses, in the message and the traceback of every record it sees.
- ``install`` puts ``Redact`` (and ``JsonFormatter``, for JSON lines) on the handlers of
  the root logger and uvicorn's.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry import trace

# What the line being logged is part of (None: outside any request or operation).
request_id: ContextVar[str | None] = ContextVar("clubgraph_request_id", default=None)
operation: ContextVar[str | None] = ContextVar("clubgraph_operation", default=None)
caller: ContextVar[str | None] = ContextVar("clubgraph_caller", default=None)

_HEADER = b"x-request-id"
# A request id a caller may choose: a UUID, a ULID, a trace id, ... never free text.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")
_CALLER_LENGTH = 128

REDACTED = "[REDACTED]"
_KEY = r"[\w-]*(?:api[_-]?key|password|passwd|secret|token|private[_-]?key|authorization)"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Passwords in URLs (scheme://user:password@host).
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*):[^@\s/]+@"), r"\1:" + REDACTED + "@"),
    # key=value, key: value, "key": "value" for keys that name a credential (an
    # Authorization header's scheme and credentials together).
    (
        re.compile(
            r"(?i)(\b" + _KEY + r"\b[\"']?\s*[:=]\s*)"
            r"(\[REDACTED\]|\"[^\"]*\"|'[^']*'|(?:bearer|basic)\s+[^\s\"',;&}\])]+|[^\s\"',;&}\])]+)"
        ),
        r"\1" + REDACTED,
    ),
    # Bearer tokens and JWTs wherever they appear.
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"), REDACTED),
)


def redact(text: str) -> str:
    """``text`` without credentials or email addresses."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def accept_request_id(value: str | None) -> str:
    """The caller's request id when it is one, else a new one."""
    if value is not None and _REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIds:
    """ASGI middleware: every HTTP request and WebSocket has a request id, answered in the
    ``X-Request-ID`` response header and carried by its log lines."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", ()):
            if name == _HEADER:
                incoming = value.decode("latin-1")
                break
        rid = accept_request_id(incoming)
        header = (_HEADER, rid.encode())

        async def send_with_id(message: Any) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                headers = [h for h in message.get("headers", ()) if h[0].lower() != header[0]]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        token = request_id.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)


class Redact(logging.Filter):
    """Masks credentials and email addresses in every record (message and traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "clubgraph_redacted", False):
            return True
        setattr(record, "clubgraph_redacted", True)  # noqa: B010 (not a declared attribute)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: the handler reports it as usual
            return True
        if redact(message) != message:
            record.msg, record.args = _redacted(record, message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _redacted(record: logging.LogRecord, message: str) -> tuple[object, Any]:
    """A record's format and arguments without secrets: each redacted apart when that
    is enough (a formatter may read the arguments: uvicorn's access log does), else
    the whole message, redacted, without arguments."""
    if isinstance(record.msg, str) and isinstance(record.args, tuple):
        msg = redact(record.msg)
        args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        try:
            text = msg % args if args else msg
        except (TypeError, ValueError):
            text = None
        if text is not None and redact(text) == text:
            return msg, args
    return redact(message), None


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, operation, caller
    (and exc_info, trace_id and span_id when there are)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if not getattr(record, "clubgraph_redacted", False):
            message = redact(message)
        who = caller.get()
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            "request_id": request_id.get(),
            "operation": operation.get(),
            "caller": None if who is None else redact(who[:_CALLER_LENGTH]),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        return orjson.dumps(entry, default=str).decode()


def install(
    log_format: str, loggers: tuple[str, ...] = ("", "uvicorn", "uvicorn.access")
) -> Callable[[], None]:
    """Redact every record that reaches the handlers of ``loggers`` (the root logger and
    uvicorn's, which do not pass their records on), and format them as JSON when
    ``log_format`` is "json"; returns what undoes it.

    With JSON and no handler at all on the root logger, one is added (standard error).
    """
    root = logging.getLogger()
    added: logging.Handler | None = None
    if log_format == "json" and not root.handlers:
        added = logging.StreamHandler(sys.stderr)
        root.addHandler(added)
    redacting = Redact()
    formatter = JsonFormatter() if log_format == "json" else None
    changed: list[tuple[logging.Handler, logging.Formatter | None]] = []
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            if any(h is handler for h, _ in changed):
                continue
            changed.append((handler, handler.formatter))
            handler.addFilter(redacting)
            if formatter is not None:
                handler.setFormatter(formatter)

    def undo() -> None:
        for handler, previous in changed:
            handler.removeFilter(redacting)
            if formatter is not None:
                handler.setFormatter(previous)
        if added is not None:
            root.removeHandler(added)

    return undo
