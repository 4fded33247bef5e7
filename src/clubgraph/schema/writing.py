"""How every mutation runs: one source, its capability, the idempotency key, the write,
its errors as data, and read-after-write."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import strawberry

from .. import ids
from ..commands import (
    Capability,
    ErrorCode,
    PartialWrite,
    UserError,
    WriteNotTraceable,
    WriteRejected,
    WriteResult,
)
from ..connectors.base import Connector
from ..domain import EntityType, Key, Source
from ..errors import UpstreamError, UpstreamNotFound, for_log
from ..idempotency import ClaimState, current_write_marker, fingerprint, write_marker
from .node import Ctx

log = logging.getLogger("clubgraph")

strawberry.enum(
    ErrorCode,
    name="UserErrorCode",
    description=(
        "Why a write was refused, the same for every source. REQUIRED, INVALID, TOO_LONG: "
        "fix the field. CONTACT_REQUIRED: ClubCollect needs an email, phone or address. "
        "AMOUNT_MISMATCH: a total is not the sum of its lines. CONFLICTING_DISCOUNTS: Tight "
        "takes a discount amount or percent, not both. PAYMENT_METHOD_REQUIRED: Tight needs "
        "cash, card or ACH accepted. DUPLICATE: an id already used. NOT_FOUND: no such "
        "entity. NOT_SUPPORTED: the source cannot do this (see `Query.sources`). "
        "INVALID_STATE: not possible in the entity's current state. ALREADY_DONE: it "
        "already happened. PAYMENT_IN_PROGRESS: wait for the payment. IDEMPOTENCY_CONFLICT: "
        "the key was used for another request. IN_PROGRESS: the first request with this "
        "key has not finished; retry. IN_DOUBT: the first request with this key stopped in "
        "the middle of its write and the source cannot tell whether it arrived: it is not "
        "written again; look at the source before retrying with a new key. "
        "UPSTREAM_FAILED: the source failed; see the message. "
        "UNKNOWN: the source refused with a code not known here; see `sourceCode`."
    ),
)


@strawberry.type(description="Why a write was refused: errors are data, not exceptions.")
class MutationError:
    field: list[str] | None = strawberry.field(
        description="Path of the input field at fault (e.g. ['lines', '2', 'unitPrice']); "
        "null when the whole input is at fault."
    )
    code: ErrorCode = strawberry.field(description="What went wrong, the same for every source.")
    message: str = strawberry.field(description="What went wrong, for a person to read.")
    source_code: str | None = strawberry.field(
        description="The source's own error code (e.g. ClubCollect's invalid_customer_email)."
    )


_CAMEL = re.compile(r"_([a-z])")


def _camel(name: str) -> str:
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


def to_graphql(error: UserError, names: Mapping[str, str]) -> MutationError:
    """A domain error with its field path in the mutation input's names."""
    # A name mapped to "" is a container the input does not have: leave it out.
    path = [n for n in (names.get(part, _camel(part)) for part in error.field) if n]
    return MutationError(
        field=path or None,
        code=error.code,
        message=error.message,
        source_code=error.source_code,
    )


@dataclass(slots=True)
class Outcome:
    """What a mutation resolved to: entity keys to show and errors, storable as JSON."""

    errors: list[UserError] = field(default_factory=list)
    invoice: Key | None = None
    item: Key | None = None
    subscription: Key | None = None
    removed: Key | None = None
    channels: list[dict[str, Any]] = field(default_factory=list)
    result: WriteResult | None = None  # the records, when the write ran in this request

    def dump(self) -> dict[str, Any]:
        def gid(key: Key | None) -> str | None:
            return None if key is None else ids.encode(key)

        return {
            "errors": [_dump_error(e) for e in self.errors],
            "invoice": gid(self.invoice),
            "item": gid(self.item),
            "subscription": gid(self.subscription),
            "removed": gid(self.removed),
            "channels": self.channels,
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> Outcome:
        def key(value: str | None) -> Key | None:
            return None if value is None else ids.decode(value)

        return cls(
            errors=[
                UserError(tuple(f), ErrorCode(c), m, s) for f, c, m, s in data.get("errors", [])
            ],
            invoice=key(data.get("invoice")),
            item=key(data.get("item")),
            subscription=key(data.get("subscription")),
            removed=key(data.get("removed")),
            channels=list(data.get("channels", [])),
        )


def refused(code: ErrorCode, message: str, *path: str) -> Outcome:
    return Outcome(errors=[UserError(tuple(path), code, message)])


def target(info: Ctx, global_id: str, expected: EntityType, path: str) -> Key | Outcome:
    """The key behind an input ID, or an outcome that says it is not there."""
    try:
        key = ids.decode(global_id, expected)
    except ids.InvalidGlobalId as exc:
        return refused(ErrorCode.INVALID, str(exc), path)
    principal = info.context.principal
    if key.source not in info.context.connectors or not (
        principal.is_member or principal.may_see_tenant(key.source, key.tenant)
    ):
        # A source this server does not reach, or a tenant the caller does not see,
        # answers like an id that does not exist.
        return refused(ErrorCode.NOT_FOUND, f"No {expected.value} with this ID.", path)
    return key


Write = Callable[[Connector], Awaitable[WriteResult]]
# What a write left at the source, found by its marker (None: nothing).
Recover = Callable[[Connector, str], Awaitable[WriteResult | None]]


async def run_write(
    info: Ctx,
    *,
    operation: str,
    source: Source,
    capability: Capability,
    idempotency_key: str,
    request: Any,
    write: Write,
    recover: Recover | None = None,
) -> Outcome:
    """Run one write once per idempotency key, with its errors as data. ``recover``
    finds the write by its marker at the source, for a key whose first holder died
    mid-write; without it such a key is answered IN_DOUBT, never written twice."""
    context = info.context
    if context.principal.is_member:
        return refused(ErrorCode.FORBIDDEN, "Members cannot change billing records.")
    connector = context.connectors.get(source)
    if connector is None:
        return refused(ErrorCode.NOT_FOUND, f"{source.value} is not configured here.")
    if capability not in connector.capabilities:
        message = f"{source.value} cannot {capability.value.lower().replace('_', ' ')}."
        return refused(ErrorCode.NOT_SUPPORTED, message)
    if not idempotency_key.strip():
        return refused(ErrorCode.REQUIRED, "An idempotency key is required.", "idempotency_key")
    store = context.idempotency
    scope = context.scope
    digest = fingerprint(operation, request)
    claim = await store.claim(scope, idempotency_key, operation, digest)
    if claim.state is ClaimState.DONE:
        return Outcome.load(claim.result)
    if claim.state is ClaimState.CONFLICT:
        return refused(
            ErrorCode.IDEMPOTENCY_CONFLICT,
            "This idempotency key was used for a different request; use a new key.",
            "idempotency_key",
        )
    if claim.state is ClaimState.PENDING:
        return refused(
            ErrorCode.IN_PROGRESS,
            "The first request with this idempotency key has not finished; retry shortly.",
            "idempotency_key",
        )
    marker = write_marker(scope, idempotency_key)
    if claim.state is ClaimState.IN_DOUBT:
        found = await _recover(store, scope, idempotency_key, connector, marker, recover)
        if isinstance(found, Outcome):
            return found
        if found is not None:
            return await _written(context, store, scope, idempotency_key, found)
    token = current_write_marker.set(marker)
    try:
        result = await write(connector)
    except WriteRejected as exc:
        outcome = Outcome(errors=list(exc.errors))
    except PartialWrite as exc:
        log.error("partial write in %s: %s (cause: %s)", operation, exc, for_log(exc.cause))
        names = ", ".join(ids.encode(k) for k in exc.created)
        # The connector's message says what remains; add the IDs a client can look up.
        message = f"{exc}. It exists upstream now: {names}." if names else f"{exc}."
        outcome = refused(ErrorCode.UPSTREAM_FAILED, message)
        outcome.invoice = next((k for k in exc.created if k.type is EntityType.INVOICE), None)
    except UpstreamNotFound as exc:
        await store.release(scope, idempotency_key)
        return Outcome(errors=[UserError((), ErrorCode.NOT_FOUND, "Not found.", _status(exc))])
    except UpstreamError as exc:
        # Nothing is known to be written: give the key back so a retry runs afresh.
        await store.release(scope, idempotency_key)
        log.warning("write %s failed upstream: %s", operation, exc.for_log())
        return Outcome(
            errors=[
                UserError(
                    (),
                    ErrorCode.UPSTREAM_FAILED,
                    f"The {exc.source} source failed ({exc.code}); what this request had "
                    "started was undone (a draft may remain, cancelled). Retry.",
                    _status(exc),
                )
            ]
        )
    except BaseException:
        await store.release(scope, idempotency_key)
        raise
    else:
        return await _written(context, store, scope, idempotency_key, result)
    finally:
        current_write_marker.reset(token)
    await store.complete(scope, idempotency_key, outcome.dump())
    return outcome


async def _written(
    context: Any, store: Any, scope: str, idempotency_key: str, result: WriteResult
) -> Outcome:
    """The outcome of a write that happened, stored as the key's answer."""
    outcome = Outcome(
        invoice=_key(result.invoice),
        item=_key(result.item),
        subscription=_key(result.subscription),
        removed=result.removed,
        channels=[
            {
                "channel": c.channel.value,
                "success": c.success,
                "error": None if c.error is None else _dump_error(c.error),
            }
            for c in result.channels
        ],
        result=result,
    )
    context.loaders.wrote(result)
    await store.complete(scope, idempotency_key, outcome.dump())
    return outcome


async def _recover(
    store: Any,
    scope: str,
    idempotency_key: str,
    connector: Connector,
    marker: str,
    recover: Recover | None,
) -> WriteResult | Outcome | None:
    """For a key taken over from a holder that died mid-write: what that write left at
    the source (a WriteResult), None when it left nothing (write now), or the answer to
    give when it cannot be known (IN_DOUBT, stored) or looked for now (UPSTREAM_FAILED,
    and the next request with the key looks again)."""
    if recover is None:
        outcome = refused(
            ErrorCode.IN_DOUBT,
            "The first request with this idempotency key stopped in the middle of its write, "
            "and this source cannot tell whether the write arrived; it is not written again. "
            "Look at the source before retrying with a new key.",
            "idempotency_key",
        )
        await store.complete(scope, idempotency_key, outcome.dump())
        return outcome
    try:
        return await recover(connector, marker)
    except WriteNotTraceable:
        return await _recover(store, scope, idempotency_key, connector, marker, None)
    except UpstreamError as exc:
        await store.reopen(scope, idempotency_key)
        log.warning("looking for an in-doubt write failed upstream: %s", exc.for_log())
        return refused(
            ErrorCode.UPSTREAM_FAILED,
            f"The {exc.source} source failed ({exc.code}) while looking for the first "
            "request's write; retry with the same key.",
        )


def _dump_error(error: UserError) -> list[Any]:
    return [list(error.field), error.code.value, error.message, error.source_code]


def _key(record: Any) -> Key | None:
    return None if record is None else record.key


def _status(exc: UpstreamError) -> str | None:
    if exc.details:
        return exc.details[0].code
    return None if exc.status is None else str(exc.status)
