"""OpenAPI 3.0.3 documents of the sandbox servers: schema helpers, a builder, the route.

Every sandbox server serves ``GET /openapi.json``: a document describing every route it
serves except ``/__sandbox/*`` and the document itself, so that OpenAPI-driven tools
(GraphQL Mesh's OpenAPI source, code generators) can be pointed at the sandbox. Each
source describes its API in ``<source>/openapi.py`` with the helpers below; ``install``
registers the route.

The document is public: it is answered before the request log, injected latency and
faults, and each source's authentication, because it describes the API rather than
being part of it (an upstream request count never includes it). ``servers`` is the base
URL the request reached, so the document works on any port.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .core import Handler, json_response

Schema = dict[str, Any]
OPENAPI_PATH = "/openapi.json"


# --- schemas ---------------------------------------------------------------------------


def _scalar(kind: str, fmt: str | None, options: Mapping[str, Any]) -> Schema:
    schema: Schema = {"type": kind}
    if fmt is not None:
        schema["format"] = fmt
    schema.update({k: v for k, v in options.items() if v is not None})
    return schema


def string(
    fmt: str | None = None,
    *,
    enum: Iterable[str] | None = None,
    nullable: bool | None = None,
    description: str | None = None,
    example: Any = None,
    min_length: int | None = None,
) -> Schema:
    """A string; ``fmt`` is an OpenAPI format (``date``, ``date-time``, ``email``, ...)."""
    return _scalar(
        "string",
        fmt,
        {
            "enum": list(enum) if enum is not None else None,
            "nullable": nullable,
            "description": description,
            "example": example,
            "minLength": min_length,
        },
    )


def integer(
    fmt: str | None = "int64",
    *,
    nullable: bool | None = None,
    description: str | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    default: int | None = None,
    example: Any = None,
) -> Schema:
    """An integer (``int64`` unless told otherwise)."""
    return _scalar(
        "integer",
        fmt,
        {
            "nullable": nullable,
            "description": description,
            "minimum": minimum,
            "maximum": maximum,
            "default": default,
            "example": example,
        },
    )


def number(
    fmt: str | None = None,
    *,
    nullable: bool | None = None,
    description: str | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    example: Any = None,
) -> Schema:
    """A JSON number (integers included)."""
    return _scalar(
        "number",
        fmt,
        {
            "nullable": nullable,
            "description": description,
            "minimum": minimum,
            "maximum": maximum,
            "example": example,
        },
    )


def boolean(*, nullable: bool | None = None, description: str | None = None) -> Schema:
    return _scalar("boolean", None, {"nullable": nullable, "description": description})


def array(items: Schema, *, nullable: bool | None = None, description: str | None = None) -> Schema:
    return _scalar(
        "array", None, {"items": items, "nullable": nullable, "description": description}
    )


def obj(
    properties: Mapping[str, Schema],
    *,
    optional: Iterable[str] = (),
    nullable: bool | None = None,
    description: str | None = None,
    additional: Schema | bool | None = None,
) -> Schema:
    """An object; every property is required except those named in ``optional``."""
    schema: Schema = {"type": "object"}
    if description is not None:
        schema["description"] = description
    if properties:
        schema["properties"] = dict(properties)
        skip = set(optional)
        required = [name for name in properties if name not in skip]
        if required:
            schema["required"] = required
    if additional is not None:
        schema["additionalProperties"] = additional
    if nullable:
        schema["nullable"] = True
    return schema


def body_obj(properties: Mapping[str, Schema], *, required: Iterable[str] = ()) -> Schema:
    """A request body object: only the properties named in ``required`` are required."""
    names = set(required)
    return obj(properties, optional=[p for p in properties if p not in names])


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def maybe(schema: Schema) -> Schema:
    """``schema`` or null (a ``$ref`` is wrapped, since siblings of ``$ref`` are ignored)."""
    if "$ref" in schema:
        return {"allOf": [schema], "nullable": True}
    return {**schema, "nullable": True}


def described(schema: Schema, text: str) -> Schema:
    """``schema`` with a description (a ``$ref`` is wrapped to keep it)."""
    if "$ref" in schema:
        return {"allOf": [schema], "description": text}
    return {**schema, "description": text}


# --- parameters and responses ----------------------------------------------------------


def path_param(name: str, schema: Schema, description: str | None = None) -> Schema:
    param: Schema = {"name": name, "in": "path", "required": True, "schema": schema}
    if description:
        param["description"] = description
    return param


def query(
    name: str, schema: Schema, description: str | None = None, *, required: bool = False
) -> Schema:
    param: Schema = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        param["description"] = description
    return param


def header(
    name: str, schema: Schema, description: str | None = None, *, required: bool = False
) -> Schema:
    param: Schema = {"name": name, "in": "header", "required": required, "schema": schema}
    if description:
        param["description"] = description
    return param


def content(schema: Schema, media_type: str = "application/json") -> Schema:
    return {media_type: {"schema": schema}}


def response(
    description: str, schema: Schema | None = None, media_type: str = "application/json"
) -> Schema:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": content(schema, media_type)}


def json_body(schema: Schema, description: str | None = None, *, required: bool = True) -> Schema:
    body: Schema = {"required": required, "content": content(schema)}
    if description:
        body["description"] = description
    return body


# --- the document ----------------------------------------------------------------------


@dataclass(slots=True)
class Api:
    """One source's OpenAPI document under construction."""

    title: str
    description: str
    version: str = "sandbox"
    tags: list[Schema] = field(default_factory=list)
    schemas: dict[str, Schema] = field(default_factory=dict)
    security_schemes: dict[str, Schema] = field(default_factory=dict)
    security: list[dict[str, list[str]]] = field(default_factory=list)
    paths: dict[str, dict[str, Schema]] = field(default_factory=dict)
    # Responses every operation may give (authentication failures and the like).
    common_responses: dict[str, Schema] = field(default_factory=dict)

    def schema(self, name: str, schema: Schema) -> Schema:
        """Register a component schema; returns a ``$ref`` to it."""
        self.schemas[name] = schema
        return ref(name)

    def tag(self, name: str, description: str) -> None:
        self.tags.append({"name": name, "description": description})

    def operation(
        self,
        method: str,
        path: str,
        operation_id: str,
        summary: str,
        *,
        tag: str,
        responses: Mapping[int | str, Schema],
        params: Iterable[Schema] = (),
        body: Schema | None = None,
        security: list[dict[str, list[str]]] | None = None,
        description: str | None = None,
        public: bool = False,
    ) -> None:
        """Describe ``method path``; ``public`` operations need no credentials."""
        item = self.paths.setdefault(path, {})
        method = method.lower()
        if method in item:
            raise ValueError(f"{method.upper()} {path} described twice")
        op: Schema = {"operationId": operation_id, "summary": summary, "tags": [tag]}
        if description:
            op["description"] = description
        parameters = list(params)
        if parameters:
            op["parameters"] = parameters
        if body is not None:
            op["requestBody"] = body
        answers = {str(status): answer for status, answer in responses.items()}
        if not public:
            for status, answer in self.common_responses.items():
                answers.setdefault(status, answer)
        op["responses"] = dict(sorted(answers.items()))
        if public:
            op["security"] = []
        elif security is not None:
            op["security"] = security
        item[method] = op

    def document(self, base_url: str) -> Schema:
        """The OpenAPI 3.0.3 document, served from ``base_url``."""
        doc: Schema = {
            "openapi": "3.0.3",
            "info": {"title": self.title, "version": self.version, "description": self.description},
            "servers": [{"url": base_url}],
            "tags": self.tags,
            "paths": self.paths,
            "components": {"schemas": self.schemas, "securitySchemes": self.security_schemes},
        }
        if self.security:
            doc["security"] = self.security
        return doc


def base_url(request: web.Request) -> str:
    """The scheme, host and port the request reached (``http://127.0.0.1:9101``)."""
    return str(request.url.origin())


def install(app: web.Application, build: Callable[[], Api]) -> None:
    """Serve ``build()``'s document at ``GET /openapi.json``, without credentials.

    The document is built on first use and kept. It is answered ahead of every other
    middleware (the request log, latency, faults, the source's authentication).
    """
    built: list[Api] = []

    async def serve(request: web.Request) -> web.Response:
        if not built:
            built.append(build())
        return json_response(built[0].document(base_url(request)))

    @web.middleware
    async def public(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == OPENAPI_PATH and request.method in ("GET", "HEAD"):
            return await serve(request)
        return await handler(request)

    app.router.add_get(OPENAPI_PATH, serve)
    app.middlewares.insert(0, public)
