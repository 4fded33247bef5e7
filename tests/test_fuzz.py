"""Fuzzing the live server over HTTP: generated operations over the real schema (built
from the introspection of ``build_schema()``), arguments and variables of right and wrong
types, garbage bodies, methods and headers. Whatever comes in, no answer is a 5xx or an
internal error, every error is JSON with ``errors[].message``, and no error shows a
traceback, a file path, an upstream address or an upstream body.

Deterministic (``derandomize``), bounded (``max_examples``), and without a database
(``database=None``); the server runs over a sandbox of its own, since generated mutations
may write.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from graphql import introspection_from_schema

# Hypothesis keeps caches (constants, Unicode tables) out of the work tree.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "clubgraph-hypothesis")
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clubgraph import ids
from clubgraph.domain import EntityType, Key, Source
from clubgraph.sandbox.runner import RunningSandbox, start_sandbox
from clubgraph.schema import build_schema
from clubgraph.settings import Settings
from support import GraphServer, graph_server

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SCHEMA = introspection_from_schema(build_schema()._schema)["__schema"]  # type: ignore[attr-defined]
TYPES: dict[str, dict[str, Any]] = {t["name"]: t for t in SCHEMA["types"]}

# What an error must never show. Generated text cannot contain these (see TEXT).
LEAKS = ("Traceback", 'File "', "site-packages", "/src/", ".py", "127.0.0.1", "localhost")
# A plain alphabet (no Unicode database needed) with the characters that break parsers.
ALPHABET = "abcXYZ019 _-.:/@#$%&*+=?!,;'\"\\{}[]()<>|~`\t\n\x00\x7féü漢🍓"
TEXT = st.text(ALPHABET, max_size=24).filter(
    lambda s: not any(m.lower() in s.lower() for m in LEAKS)
)
NAMES = st.text("abcdefghijklmnopqrstuvwxyz_ABCXYZ", min_size=1, max_size=10)


@dataclass
class Fuzzed:
    graph: GraphServer
    sandbox: RunningSandbox


@pytest.fixture(scope="module")
async def fuzzed() -> AsyncIterator[Fuzzed]:
    sandbox = await start_sandbox(port_base=None)
    sources = sandbox.source_settings()
    config = Settings(
        sources=sources,
        mode="sandbox",
        default_page_size=5,
        max_page_size=20,
        max_cost=2_000,
        max_body_bytes=64 * 1024,
    )
    try:
        async with graph_server(config, sandbox) as graph:
            found = await graph.data(
                "{ clients(first: 8) { nodes { id } } invoices(first: 8) { nodes { id "
                "items(first: 1) { nodes { id } } } } subscriptions(first: 8) { nodes { id } } }"
            )
            REAL_IDS[:] = [
                *(n["id"] for n in found["clients"]["nodes"]),
                *(n["id"] for n in found["invoices"]["nodes"]),
                *(i["id"] for n in found["invoices"]["nodes"] for i in n["items"]["nodes"]),
                *(n["id"] for n in found["subscriptions"]["nodes"]),
            ]
            yield Fuzzed(graph, sandbox)
    finally:
        await sandbox.stop()


# --- values ------------------------------------------------------------------------


def _named(ref: dict[str, Any]) -> str:
    while ref.get("ofType"):
        ref = ref["ofType"]
    name: str = ref["name"]
    return name


def _type_text(ref: dict[str, Any]) -> str:
    if ref["kind"] == "NON_NULL":
        return _type_text(ref["ofType"]) + "!"
    if ref["kind"] == "LIST":
        return "[" + _type_text(ref["ofType"]) + "]"
    name: str = ref["name"]
    return name


# Global IDs of records the fuzzed server's sandbox has (filled by the fixture).
REAL_IDS: list[str] = []

TENANTS = st.sampled_from(["7001", "50101", "103", "cmp_amsterdam_hc", "1", ""]) | TEXT
GLOBAL_IDS = st.deferred(lambda: st.sampled_from(REAL_IDS)) | st.builds(
    lambda t, s, tenant, id_: ids.encode(Key(t, s, tenant, id_)),
    st.sampled_from(list(EntityType)),
    st.sampled_from(list(Source)),
    TENANTS,
    st.sampled_from(["1", "810467", "1123100003", "1042/88123"]) | TEXT,
)
SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "Int": st.integers(0, 8)
    | st.integers(0, 8)
    | st.integers(-3, 25)
    | st.integers(-(2**40), 2**40),
    "Float": st.floats(allow_nan=False, allow_infinity=False),
    "String": TEXT,
    "Boolean": st.booleans(),
    "ID": GLOBAL_IDS | TEXT,
    "Decimal": st.sampled_from(
        ["49.95", "1", "-2.5", "0", "NaN", "sNaN", "-Infinity", "1e999999", "1E+3", "0.000000001"]
    )
    | st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str)
    | TEXT,
    "Date": st.sampled_from(["2026-10-01", "2026-02-30", "0001-01-01", "9999-12-31", "2026-1-1"])
    | st.dates(dt.date(1900, 1, 1), dt.date(2999, 12, 31)).map(lambda d: d.isoformat())
    | TEXT,
    "DateTime": st.sampled_from(
        ["2026-10-01T00:00:00Z", "2026-10-01T00:00:00", "0001-01-01T00:00:00-12:00"]
    )
    | st.datetimes(dt.datetime(1900, 1, 2), dt.datetime(2999, 12, 30)).map(
        lambda d: d.isoformat() + "Z"
    )
    | TEXT,
}
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def json_value(draw: st.DrawFn, ref: dict[str, Any], depth: int = 3, wrong: int = 25) -> Any:
    """A value for this type; ``wrong`` in a hundred times a value of any type."""
    if draw(st.integers(0, 99)) < wrong:
        return draw(ANY_JSON)
    return draw(_json_of(ref, depth, wrong))


def _json_of(ref: dict[str, Any], depth: int, wrong: int) -> st.SearchStrategy[Any]:
    kind = ref["kind"]
    if kind == "NON_NULL":
        return _json_of(ref["ofType"], depth, wrong)
    if kind == "LIST":
        item = json_value(ref["ofType"], depth, wrong)
        return st.lists(item, max_size=3) | item
    named = TYPES[ref["name"]]
    if named["kind"] == "ENUM":
        values = st.sampled_from([v["name"] for v in named["enumValues"]])
        return st.one_of(values, values, values, NAMES)
    if named["kind"] == "INPUT_OBJECT":
        if depth <= 0:
            return st.just({})
        return _input_fields(named, depth - 1, wrong).map(dict)
    return SCALARS.get(named["name"], TEXT)


@st.composite
def _input_fields(
    draw: st.DrawFn, named: dict[str, Any], depth: int, wrong: int
) -> list[tuple[str, Any]]:
    pairs = []
    for field in named["inputFields"]:
        if field["type"]["kind"] == "NON_NULL" or draw(st.booleans()):
            pairs.append((field["name"], draw(json_value(field["type"], depth, wrong))))
    return pairs


def _literal(value: Any, ref: dict[str, Any] | None) -> str:
    """A value as GraphQL source text (enum names bare where the type is an enum)."""
    enum = ref is not None and TYPES.get(_named(ref), {}).get("kind") == "ENUM"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        if enum and value.isidentifier():
            return value
        return json.dumps(value)
    if isinstance(value, list):
        inner = ref["ofType"] if ref is not None and ref["kind"] == "LIST" else ref
        return "[" + ", ".join(_literal(v, inner) for v in value) + "]"
    fields = {}
    if ref is not None and TYPES.get(_named(ref), {}).get("kind") == "INPUT_OBJECT":
        fields = {f["name"]: f["type"] for f in TYPES[_named(ref)]["inputFields"]}
    return "{" + ", ".join(f"{k}: {_literal(v, fields.get(k))}" for k, v in value.items()) + "}"


def _unwrapped(ref: dict[str, Any]) -> dict[str, Any]:
    return ref["ofType"] if ref["kind"] == "NON_NULL" else ref


# --- operations --------------------------------------------------------------------


@st.composite
def arguments(draw: st.DrawFn, args: list[dict[str, Any]]) -> str:
    parts = []
    for arg in args:
        required = arg["type"]["kind"] == "NON_NULL"
        if required or draw(st.integers(0, 2)) == 0:
            value = draw(json_value(arg["type"], wrong=5))
            parts.append(f"{arg['name']}: {_literal(value, _unwrapped(arg['type']))}")
    if draw(st.integers(0, 29)) == 0:
        parts.append(f"{draw(NAMES)}: {_literal(draw(ANY_JSON), None)}")
    return "(" + ", ".join(parts) + ")" if parts else ""


@st.composite
def selections(draw: st.DrawFn, type_name: str, depth: int) -> str:
    named = TYPES[type_name]
    fields = named.get("fields") or []
    if not fields:  # a union (federation's _Entity): its members by fragment
        if depth <= 0:
            return "__typename"
        concrete = draw(st.sampled_from(named["possibleTypes"]))["name"]
        return f"__typename ... on {concrete} {{ {draw(selections(concrete, depth - 1))} }}"
    chosen = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=3, unique_by=id))
    parts = []
    for i, field in enumerate(chosen):
        target = TYPES[_named(field["type"])]
        alias = draw(st.sampled_from(["", "", "", f"a{i}: "]))
        args = draw(arguments(field["args"]))
        sub = ""
        if target["kind"] in ("OBJECT", "INTERFACE", "UNION"):
            inner = draw(selections(target["name"], depth - 1)) if depth > 0 else "__typename"
            sub = " { " + inner + " }"
        parts.append(f"{alias}{field['name']}{args}{sub}")
    if named["kind"] == "INTERFACE" and depth > 0 and draw(st.booleans()):
        concrete = draw(st.sampled_from(named["possibleTypes"]))["name"]
        parts.append(f"... on {concrete} {{ {draw(selections(concrete, depth - 1))} }}")
    if draw(st.integers(0, 4)) == 0:
        parts.append("__typename")
    return " ".join(parts)


@st.composite
def operations(draw: st.DrawFn) -> str:
    root = draw(st.sampled_from(["Query", "Query", "Query", "Mutation"]))
    keyword = "query" if root == "Query" else "mutation"
    return f"{keyword} {{ {draw(selections(root, draw(st.integers(0, 3))))} }}"


@st.composite
def with_variables(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    root = draw(st.sampled_from(["Query", "Mutation"]))
    field = draw(st.sampled_from([f for f in TYPES[root]["fields"] if f["args"]]))
    declared, passed, values = [], [], {}
    for i, arg in enumerate(field["args"]):
        name = f"v{i}"
        type_text = _type_text(arg["type"])
        if draw(st.integers(0, 9)) == 0:  # declared with another type
            type_text = draw(st.sampled_from(["Int", "String!", "[ID]", "Boolean", "Decimal"]))
        declared.append(f"${name}: {type_text}")
        passed.append(f"{arg['name']}: ${name}")
        if draw(st.integers(0, 5)) > 0:
            values[name] = draw(json_value(arg["type"], wrong=15))
    target = TYPES[_named(field["type"])]
    sub = ""
    if target["kind"] in ("OBJECT", "INTERFACE", "UNION"):
        sub = " { " + draw(selections(target["name"], 1)) + " }"
    keyword = "query" if root == "Query" else "mutation"
    text = f"{keyword} Fuzz({', '.join(declared)}) {{ {field['name']}({', '.join(passed)}){sub} }}"
    return text, values


# --- checks ------------------------------------------------------------------------


def _check(fuzzed: Fuzzed, method: str, status: int, headers: Any, body: bytes) -> None:
    assert status < 500, (status, body[:500])
    if method == "HEAD" or status == 204:
        return
    media = headers.get("Content-Type", "")
    if media.startswith("text/html"):
        assert status == 200  # the GraphiQL page, in sandbox mode
        return
    assert media.startswith("application/json"), (status, media, body[:200])
    document = json.loads(body)
    if status >= 400:
        assert isinstance(document, dict)
        assert document["errors"], document
    errors = document.get("errors") if isinstance(document, dict) else None
    if errors is None:
        return
    assert isinstance(errors, list)
    assert errors
    for error in errors:
        assert isinstance(error["message"], str)
        assert error["message"]
        assert (error.get("extensions") or {}).get("code") != "INTERNAL_SERVER_ERROR", error
    shown = json.dumps(errors, ensure_ascii=False)
    for leak in (*LEAKS, *fuzzed.sandbox.urls.values()):
        assert leak not in shown, (leak, errors)
    for word in ("errorCode", "errorMessage", "validationErrors", '"status":'):
        assert word not in shown, (word, errors)  # upstream bodies


async def _post(fuzzed: Fuzzed, payload: Any) -> None:
    graph = fuzzed.graph
    async with graph.http.post(graph.url + "/graphql", json=payload) as resp:
        _check(fuzzed, "POST", resp.status, resp.headers, await resp.read())


# --- the properties ----------------------------------------------------------------


@settings(FUZZ, max_examples=200)
@given(query=operations())
async def test_generated_operations_never_break_the_server(fuzzed: Fuzzed, query: str) -> None:
    await _post(fuzzed, {"query": query})


@settings(FUZZ, max_examples=150)
@given(case=with_variables())
async def test_generated_variables_never_break_the_server(
    fuzzed: Fuzzed, case: tuple[str, dict[str, Any]]
) -> None:
    query, variables = case
    await _post(fuzzed, {"query": query, "variables": variables, "operationName": "Fuzz"})


PAYLOADS = st.fixed_dictionaries(
    {},
    optional={
        "query": st.one_of(TEXT, operations(), ANY_JSON),
        "variables": ANY_JSON,
        "operationName": st.one_of(st.none(), NAMES, ANY_JSON),
        "extensions": ANY_JSON,
    },
)
BODIES = st.one_of(
    st.binary(max_size=200),
    PAYLOADS.map(lambda p: json.dumps(p).encode()),
    ANY_JSON.map(lambda v: json.dumps(v).encode()),
    st.lists(PAYLOADS, max_size=3).map(lambda p: json.dumps(p).encode()),
)
MEDIA = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "text/plain",
        "application/graphql",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "",
    ]
)
METHODS = st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH", "HEAD"])
PATHS = st.sampled_from(["/graphql", "/graphql/", "/graphql?query=%7B__typename%7D", "/nope"])


@settings(FUZZ, max_examples=200)
@given(method=METHODS, path=PATHS, media=MEDIA, body=BODIES)
async def test_garbage_bodies_get_a_clear_4xx(
    fuzzed: Fuzzed, method: str, path: str, media: str, body: bytes
) -> None:
    graph = fuzzed.graph
    headers = {"Content-Type": media} if media else {}
    data = body if method not in ("GET", "HEAD") else None
    async with graph.http.request(method, graph.url + path, data=data, headers=headers) as resp:
        _check(fuzzed, method, resp.status, resp.headers, await resp.read())


PARAMS = st.dictionaries(
    st.sampled_from(["query", "variables", "operationName", "extensions", "x"]),
    st.one_of(TEXT, operations(), ANY_JSON.map(json.dumps)),
    max_size=4,
)
HEADER_VALUES = st.text("abcXYZ019 _-.:/@#$%&*+=?!,;'\"\\{}[]()<>|~`", max_size=40)
BEARERS = st.one_of(
    HEADER_VALUES,
    HEADER_VALUES.map(lambda v: "Bearer " + v),
    st.just("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."),
    st.just("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"),
)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "Authorization": BEARERS,
        "Accept": st.sampled_from(["*/*", "text/html", "application/json", "", "x/y"])
        | HEADER_VALUES,
        "Origin": HEADER_VALUES,
        "Access-Control-Request-Method": HEADER_VALUES,
        "Cookie": HEADER_VALUES,
        "X-Forwarded-For": HEADER_VALUES,
        "X-Fuzz": HEADER_VALUES,
    },
)


@settings(FUZZ, max_examples=100)
@given(method=st.sampled_from(["GET", "POST", "OPTIONS"]), params=PARAMS, headers=HEADERS)
async def test_garbage_parameters_and_headers_get_a_clear_answer(
    fuzzed: Fuzzed, method: str, params: dict[str, str], headers: dict[str, str]
) -> None:
    graph = fuzzed.graph
    body = json.dumps({"query": "{ sources { name } }"}) if method == "POST" else None
    if body is not None:
        headers = {**headers, "Content-Type": "application/json"}
    async with graph.http.request(
        method, graph.url + "/graphql", params=params, data=body, headers=headers
    ) as resp:
        _check(fuzzed, method, resp.status, resp.headers, await resp.read())
