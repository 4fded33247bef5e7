"""Tight's error bodies: OAuth errors for auth, ``result``/``errors`` bodies for the API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

import orjson
from aiohttp import web


def oauth_error(status: int, error: str, description: str) -> web.HTTPException:
    """A Spring-style OAuth 2.0 error (``error``, ``error_description``)."""
    cls = web.HTTPUnauthorized if status == 401 else web.HTTPBadRequest
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = f'Bearer realm="tight", error="{error}"'
    return cls(
        text=orjson.dumps({"error": error, "error_description": description}).decode(),
        content_type="application/json",
        headers=headers,
    )


def failure_body(
    message: str,
    global_errors: Sequence[tuple[str, str]] = (),
    field_errors: dict[str, list[tuple[str, str]]] | None = None,
) -> dict[str, Any]:
    """The body of a refused API call."""
    return {
        "result": "FAILURE",
        "message": message,
        "errors": {
            "fieldErrors": {
                name: [{"type": code, "errorMessage": text} for code, text in errs]
                for name, errs in (field_errors or {}).items()
            },
            "globalErrors": [{"type": code, "errorMessage": text} for code, text in global_errors],
        },
    }


_BY_STATUS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
    422: web.HTTPUnprocessableEntity,  # sandbox controls only
}


def fail(status: int, code: str, message: str) -> NoReturn:
    """Refuse the call with one global error."""
    raise _BY_STATUS[status](
        text=orjson.dumps(failure_body(message, [(code, message)])).decode(),
        content_type="application/json",
    )


class FieldErrors:
    """Validation errors collected over a request body, raised together as one 400."""

    def __init__(self) -> None:
        self.fields: dict[str, list[tuple[str, str]]] = {}
        self.globals: list[tuple[str, str]] = []

    def add(self, field: str | None, code: str, message: str) -> None:
        if field is None:
            self.globals.append((code, message))
        else:
            self.fields.setdefault(field, []).append((code, message))

    def raise_if_any(self) -> None:
        if not self.fields and not self.globals:
            return
        first = self.globals[0] if self.globals else next(iter(self.fields.values()))[0]
        raise web.HTTPBadRequest(
            text=orjson.dumps(failure_body(first[1], self.globals, self.fields)).decode(),
            content_type="application/json",
        )


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or a 400 in Tight's error shape."""
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        fail(400, "INVALID_JSON", "Request body is not valid JSON")
    if not isinstance(body, dict):
        fail(400, "INVALID_JSON", "Request body must be a JSON object")
    return body
