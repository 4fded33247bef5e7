"""UFP write rules checked before any upstream call, with the codes UFP refuses them with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...commands import Channel, ErrorCode, SubscriptionCommand, SubscriptionOp, UserError
from ...domain import EntityType, Key, Source

# The command fields each operation sends upstream, and those it cannot do without.
# A field an operation does not take is refused rather than silently dropped.
_TAKES: Mapping[SubscriptionOp, tuple[frozenset[str], frozenset[str]]] = {
    SubscriptionOp.CANCEL: (frozenset({"on", "reason"}), frozenset({"reason"})),
    SubscriptionOp.REACTIVATE: (frozenset(), frozenset()),
    SubscriptionOp.FREEZE: (
        frozenset({"from_date", "until_date", "reason"}),
        frozenset({"from_date", "until_date", "reason"}),
    ),
    # UFP stops a freeze at once; a scheduled one is picked by its start date.
    SubscriptionOp.STOP_FREEZE: (frozenset(), frozenset()),
    SubscriptionOp.CANCEL_FREEZE: (frozenset({"from_date"}), frozenset()),
    SubscriptionOp.CHANGE_START: (frozenset({"on"}), frozenset({"on"})),
    SubscriptionOp.CHANGE_END: (frozenset({"on"}), frozenset({"on"})),
    SubscriptionOp.VOID: (frozenset({"reason"}), frozenset({"reason"})),
}
_FREEZE_OPS = frozenset({SubscriptionOp.STOP_FREEZE, SubscriptionOp.CANCEL_FREEZE})


def key_ids(key: Key, kind: EntityType) -> tuple[str, str] | None:
    """``(client_id, id)`` of a FitnessForce invoice or subscription key, else None."""
    pieces = key.id.split("/")
    ours = key.source is Source.FITNESSFORCE and key.type is kind and len(pieces) == 2
    if not ours or not key.tenant.isdigit() or not all(p.isdigit() for p in pieces):
        return None
    return pieces[0], pieces[1]


def key_error(key: Key, kind: EntityType) -> UserError:
    # Same code as UFP's InvalidIdentifier / *NotFound for an id it cannot have.
    return UserError(("key",), ErrorCode.NOT_FOUND, f"no FitnessForce {kind.value}: {key.id}")


def blank(text: str | None) -> bool:
    return text is None or not text.strip()


def reason_errors(reason: str | None) -> list[UserError]:
    if blank(reason):
        return [UserError(("reason",), ErrorCode.REQUIRED, "reason is required")]
    return []


def channel_errors(channels: Sequence[Any]) -> list[UserError]:
    # UFP refuses an unknown channel (InvalidChannel) for the whole call.
    known = {c.value for c in Channel}
    return [
        UserError(("channels",), ErrorCode.INVALID, f"unknown channel {c!r}")
        for c in channels
        if getattr(c, "value", c) not in known
    ]


def subscription_errors(cmd: SubscriptionCommand) -> list[UserError]:
    """What UFP would refuse in ``cmd`` without reading anything, and what it cannot take,
    in the command's field order."""
    takes, needs = _TAKES[cmd.op]
    errors: list[UserError] = []
    op = cmd.op.value.lower().replace("_", " ")
    for name in ("on", "from_date", "until_date", "reason"):
        value = getattr(cmd, name)
        missing = blank(value) if name == "reason" else value is None
        if name in needs and missing:
            errors.append(UserError((name,), ErrorCode.REQUIRED, f"{name} is required to {op}"))
        elif name not in takes and value is not None:
            errors.append(
                UserError((name,), ErrorCode.INVALID, f"FitnessForce takes no {name} to {op}")
            )
        elif name == "until_date" and not _ordered(cmd):
            # Same code and field as UFP's FreezeEndBeforeStart.
            errors.append(
                UserError(("until_date",), ErrorCode.INVALID, "freeze must end after it starts")
            )
    for name, value in cmd.extra.items():
        if name != "freeze_id" or cmd.op not in _FREEZE_OPS:
            errors.append(
                UserError(("extra", name), ErrorCode.INVALID, f"FitnessForce takes no {name}")
            )
        elif not str(value).isdigit():
            # UFP answers an id it cannot have with InvalidIdentifier: NOT_FOUND.
            errors.append(
                UserError(("extra", name), ErrorCode.NOT_FOUND, f"freeze {value} not found")
            )
    return errors


def _ordered(cmd: SubscriptionCommand) -> bool:
    """Whether a freeze's dates, where both are given, end after they start."""
    if cmd.op is not SubscriptionOp.FREEZE or cmd.from_date is None or cmd.until_date is None:
        return True
    return cmd.until_date > cmd.from_date
