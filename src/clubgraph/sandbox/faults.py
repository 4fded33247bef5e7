"""Faults a sandbox server injects on demand: what an upstream does when it misbehaves.

``POST /__sandbox/faults`` adds one fault (``DELETE`` clears them all and lets hung
requests go). A fault is a JSON object::

    {"path": regex, "method"?: "GET", "times"?: 1, "skip"?: 0, "rate"?: 0.5, "seed"?: 0,
     "kind": "status", ...what that kind takes}

It applies to requests whose path matches ``path`` (``re.search``) and, when given,
whose method is ``method``. It lets ``skip`` of them through first, then acts on
``times`` of them (``null``: on every one). With ``rate``, each match past ``skip``
is hit with that probability instead (a seeded generator, ``seed`` defaulting to 0,
so a test sees the same sequence every run), and ``times`` has no limit unless given.
The first fault still in force that matches a request decides what happens to it.

Kinds, with what each takes:

- ``status`` (the default): answer ``status`` (default 500) with ``body`` (default
  ``{"error": "injected fault"}``) instead of serving the request; ``retry_after``
  (seconds) adds a ``Retry-After`` header (for 429 and 503).
- ``latency``: wait ``latency_ms`` milliseconds, then serve the request normally.
- ``hang``: never answer: the request waits until faults are cleared or the server
  stops (far past any client timeout), then its connection is closed unanswered.
- ``reset``: close the connection at once, without an answer.
- ``truncate``: serve the request and send the first half of its body (status and
  headers as served): broken JSON.
- ``malformed``: serve the request and answer 200 with ``<html>oops``, declared as
  ``application/json``.
- ``drop_field``: serve the request with ``field`` removed from every JSON object
  that has it, at any depth.
- ``wrong_type``: the same with every ``field``'s value replaced by ``value`` (a value
  of a type the field never has, e.g. a number for a date).
- ``enum_value``: the same with ``value``, a string: an enum value never seen before.

The kind's own key also names it, as a shorthand: ``{"hang": true}``, ``{"reset":
true}``, ``{"truncate": true}``, ``{"malformed": true}``, ``{"latency_ms": 300}``,
``{"drop_field": "currency_code"}``, ``{"wrong_type": {"field": ..., "value": ...}}``,
``{"enum_value": {"field": ..., "value": ...}}``. A spec with only ``status`` (and
``body``) is a status fault, as it always was. Any other key, or a value of the wrong
type, is refused with 400 and a message saying which.

Faults act on what a request is answered, after the source's own handling (its
authentication included), so the request log shows every faulted request with the
status it was answered (``null`` when it was not) and the fault's kind.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

KINDS = (
    "status",
    "latency",
    "hang",
    "reset",
    "truncate",
    "malformed",
    "drop_field",
    "wrong_type",
    "enum_value",
)
# Kinds that serve the request and change its answer.
SPOILERS = frozenset({"truncate", "malformed", "drop_field", "wrong_type", "enum_value"})
# Kinds that never answer.
DROPS = frozenset({"hang", "reset"})

_COMMON = frozenset({"path", "method", "times", "skip", "rate", "seed", "kind"})
_PARAMS: dict[str, frozenset[str]] = {
    "status": frozenset({"status", "retry_after", "body"}),
    "latency": frozenset({"latency_ms"}),
    "hang": frozenset(),
    "reset": frozenset(),
    "truncate": frozenset(),
    "malformed": frozenset(),
    "drop_field": frozenset({"field"}),
    "wrong_type": frozenset({"field", "value"}),
    "enum_value": frozenset({"field", "value"}),
}
_MALFORMED = b"<html>oops"
_MISSING = object()


class BadFault(ValueError):
    """A fault spec the sandbox cannot act on."""


@dataclass(slots=True)
class Fault:
    """One injected fault: which requests, how many, and what happens to them."""

    kind: str
    path: re.Pattern[str]
    method: str | None = None
    times: int | None = 1
    skip: int = 0
    rate: float | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    status: int = 500
    retry_after: float | None = None
    body: Any = None
    latency_ms: float = 0
    field_name: str = ""
    value: Any = None

    def matches(self, request: web.Request) -> bool:
        method_ok = self.method is None or self.method == request.method
        return method_ok and self.path.search(request.path) is not None

    @property
    def spent(self) -> bool:
        return self.times is not None and self.times <= 0

    def strikes(self) -> bool:
        """Whether it acts on a request it matches (counting it)."""
        if self.skip > 0:
            self.skip -= 1
            return False
        if self.rate is not None and self.rng.random() >= self.rate:
            return False
        if self.times is not None:
            self.times -= 1
        return True

    def answer(self) -> web.Response:
        """What a status fault answers."""
        body = self.body if self.body is not None else {"error": "injected fault"}
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = _seconds(self.retry_after)
        return web.Response(
            body=orjson.dumps(body),
            status=self.status,
            content_type="application/json",
            headers=headers,
        )

    def spoil(self, response: web.Response) -> web.Response:
        """The served ``response`` as this fault changes it."""
        if not isinstance(response.body, bytes) and self.kind != "malformed":
            return response  # a streamed body: nothing here to cut or change
        raw = response.body if isinstance(response.body, bytes) else b""
        status = response.status
        if self.kind == "truncate":
            raw = raw[: len(raw) // 2]
        elif self.kind == "malformed":
            raw, status = _MALFORMED, 200
        else:
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return response  # nothing in JSON to change
            raw = orjson.dumps(self._drift(data))
        headers = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in ("content-length", "content-type", "content-encoding")
        }
        content_type = "application/json" if self.kind == "malformed" else response.content_type
        return web.Response(body=raw, status=status, headers=headers, content_type=content_type)

    def _drift(self, data: Any) -> Any:
        if isinstance(data, dict):
            out = {}
            for key, value in data.items():
                if key != self.field_name:
                    out[key] = self._drift(value)
                elif self.kind != "drop_field":
                    out[key] = self.value
            return out
        if isinstance(data, list):
            return [self._drift(item) for item in data]
        return data


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def parse(spec: Any) -> Fault:
    """The fault a spec describes; ``BadFault`` says what is wrong with it."""
    if not isinstance(spec, dict):
        raise BadFault("a fault is a JSON object")
    spec = _canonical(spec)
    kind = spec.get("kind", "status")
    if kind not in _PARAMS:
        raise BadFault(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    unknown = set(spec) - _COMMON - _PARAMS[kind]
    if unknown:
        raise BadFault(f"a {kind} fault takes no {', '.join(sorted(unknown))}")
    pattern = spec.get("path")
    if not isinstance(pattern, str):
        raise BadFault("path must be a regular expression (a string)")
    try:
        path = re.compile(pattern)
    except re.error as exc:
        raise BadFault(f"path {pattern!r} is not a regular expression: {exc}") from None
    method = spec.get("method")
    if method is not None and not isinstance(method, str):
        raise BadFault("method must be a string")
    rate = _number(spec, "rate", None, low=0.0, high=1.0)
    times = spec.get("times", None if rate is not None else 1)
    if times is not None:
        times = _integer(spec, "times", 1)
    fault = Fault(
        kind=kind,
        path=path,
        method=method.upper() if method else None,
        times=times,
        skip=_integer(spec, "skip", 0),
        rate=rate,
        rng=random.Random(_integer(spec, "seed", 0)),
    )
    if kind == "status":
        fault.status = _integer(spec, "status", 500)
        if not 100 <= fault.status <= 599:
            raise BadFault(f"status {fault.status} is not an HTTP status")
        fault.retry_after = _number(spec, "retry_after", None)
        fault.body = spec.get("body")
    elif kind == "latency":
        latency = _number(spec, "latency_ms", _MISSING)
        assert latency is not None
        fault.latency_ms = latency
    elif kind in ("drop_field", "wrong_type", "enum_value"):
        name = spec.get("field")
        if not isinstance(name, str) or not name:
            raise BadFault(f"a {kind} fault needs field: the name of a JSON field")
        fault.field_name = name
        if kind != "drop_field":
            if "value" not in spec:
                raise BadFault(f"a {kind} fault needs value: what {name} becomes")
            fault.value = spec["value"]
            if kind == "enum_value" and not isinstance(fault.value, str):
                raise BadFault("an enum_value fault's value is a string")
    return fault


def _canonical(spec: dict[str, Any]) -> dict[str, Any]:
    """A spec that names its kind by the kind's own key, as ``{"kind": ...}`` spells it."""
    named: list[str] = [k for k in ("hang", "reset", "truncate", "malformed") if k in spec]
    named += [k for k in ("drop_field", "wrong_type", "enum_value") if k in spec]
    if "latency_ms" in spec and "kind" not in spec:
        named.append("latency")
    if not named:
        return spec
    if len(named) > 1 or "kind" in spec:
        raise BadFault(f"a fault has one kind; this one says {', '.join(named)}")
    kind = named[0]
    out = {k: v for k, v in spec.items() if k != kind}
    out["kind"] = kind
    value = spec.get(kind)
    if kind in ("hang", "reset", "truncate", "malformed"):
        if value is not True:
            raise BadFault(f"{kind} is true or absent")
    elif kind == "drop_field":
        out["field"] = value
    elif kind in ("wrong_type", "enum_value"):
        if not isinstance(value, dict):
            raise BadFault(f'{kind} is {{"field": name, "value": value}}')
        out.update(value)
    return out


def _integer(spec: dict[str, Any], name: str, default: int) -> int:
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadFault(f"{name} must be a whole number >= 0, not {value!r}")
    return value


def _number(
    spec: dict[str, Any], name: str, default: Any, low: float = 0.0, high: float | None = None
) -> float | None:
    value = spec.get(name, default)
    if value is None:
        return None
    if value is _MISSING:
        raise BadFault(f"{name} is required")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadFault(f"{name} must be a number, not {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
        raise BadFault(f"{name} must be {bounds}, not {value!r}")
    return float(value)
