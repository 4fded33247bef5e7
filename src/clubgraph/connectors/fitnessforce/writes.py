"""FitnessForce UFP writes on the connector contract: invoices sent and voided, memberships."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import date
from typing import Any, NoReturn

from ...commands import (
    SUBSCRIPTION_CAPABILITY,
    Capability,
    Channel,
    ChannelResult,
    ErrorCode,
    PartialWrite,
    SubscriptionCommand,
    SubscriptionOp,
    UserError,
    WriteRejected,
    WriteResult,
)
from ...domain import EntityType, Key
from ...errors import UpstreamBadResponse, UpstreamError
from ...http import UpstreamHTTP
from .mapping import map_invoice, map_subscription
from .refusals import refusal, user_error
from .rules import channel_errors, key_error, key_ids, reason_errors, subscription_errors
from .types import ChannelDelivery, Freeze

CAPABILITIES = frozenset(
    {
        Capability.SEND_INVOICE,
        Capability.VOID_INVOICE,
        Capability.SEND_INVOICE_BALANCE_LINK,
        *SUBSCRIPTION_CAPABILITY.values(),
    }
)

# The channel "Send invoice PDF" uses: the contract's send names no channel, and an
# invoice goes to its client by email.
SEND_CHANNELS = (Channel.EMAIL,)

Undo = Callable[[], Awaitable[Any]]


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


class FitnessForceWrites:
    """Write operations, mixed into the connector that owns ``http``."""

    http: UpstreamHTTP

    # --- invoices ---------------------------------------------------------------------

    async def send_invoice(self, key: Key) -> WriteResult:
        """Email the invoice PDF to its client; refused when the email cannot go out."""
        path = self._invoice_path(key)
        channels = await self._deliver(path + "/send_invoice_pdf", SEND_CHANNELS)
        if not any(c.success for c in channels):
            # Nothing went out. The contract's send takes no channels, so the error is
            # the whole command's.
            errors = [replace(c.error, field=()) for c in channels if c.error is not None]
            raise WriteRejected(
                errors or [UserError((), ErrorCode.UPSTREAM_FAILED, "the invoice was not sent")]
            )
        invoice = await self._reread_invoice(key, path, sent=True)
        return WriteResult(invoice=invoice, channels=channels)

    async def void_invoice(self, key: Key, reason: str | None) -> WriteResult:
        """Void an invoice that has no payments; UFP keeps the reason."""
        path = self._invoice_path(key, reason_errors(reason))
        assert reason is not None
        raw = await self._call("POST", path + "/void", {"reason": reason.strip()})
        return WriteResult(invoice=map_invoice(raw, key.tenant))

    async def send_invoice_balance_link(self, key: Key, channels: Sequence[Channel]) -> WriteResult:
        """Send the documented clear-balance link; a channel's failure is its own result."""
        path = self._invoice_path(key, channel_errors(channels))
        results = await self._deliver(path + "/send_invoice_clear_balance_link", channels)
        sent = any(c.success for c in results)
        invoice = await self._reread_invoice(key, path, sent=sent)
        return WriteResult(invoice=invoice, channels=results)

    # --- subscriptions ----------------------------------------------------------------

    async def change_subscription(self, cmd: SubscriptionCommand) -> WriteResult:
        """One of the eight UFP membership operations; returns the membership as it is now."""
        errors = subscription_errors(cmd)
        ids = key_ids(cmd.key, EntityType.SUBSCRIPTION)
        if ids is None:
            errors.insert(0, key_error(cmd.key, EntityType.SUBSCRIPTION))
        if errors:
            raise WriteRejected(errors)
        assert ids is not None
        path = f"/tenant/{cmd.key.tenant}/clients/{ids[0]}/subscriptions/{ids[1]}"
        op = cmd.op
        if op is SubscriptionOp.FREEZE:
            return await self._freeze(cmd, path)
        if op is SubscriptionOp.STOP_FREEZE or op is SubscriptionOp.CANCEL_FREEZE:
            return await self._end_freeze(cmd, path)
        method, tail, body = _membership_call(cmd)
        raw = await self._call(method, path + tail, body)
        return WriteResult(subscription=map_subscription(raw, cmd.key.tenant))

    async def _freeze(self, cmd: SubscriptionCommand, path: str) -> WriteResult:
        body = {
            "freeze_start_date": _day(cmd.from_date),
            "freeze_end_date": _day(cmd.until_date),
            "reason": (cmd.reason or "").strip(),
        }
        freeze: Freeze = await self._call("POST", path + "/freezes", body)
        undo: Undo | None = None
        if freeze["status"] == "Scheduled":
            # A freeze that has not begun can be cancelled; a begun one cannot be undone.
            undo = lambda: self._call(  # noqa: E731
                "POST", f"{path}/freezes/{freeze['freeze_id']}/cancel"
            )
        return await self._reread_subscription(cmd.key, path, undo)

    async def _end_freeze(self, cmd: SubscriptionCommand, path: str) -> WriteResult:
        stop = cmd.op is SubscriptionOp.STOP_FREEZE
        freeze_id = cmd.extra.get("freeze_id")
        if freeze_id is None:
            # The command names no freeze: read the membership's freezes to find it.
            current = await self._call("GET", path)
            freeze_id = _pick_freeze(current.get("freezes") or [], cmd)
        ended: Freeze = await self._call(
            "POST", f"{path}/freezes/{freeze_id}/{'stop' if stop else 'cancel'}"
        )
        undo: Undo | None = None
        if not stop:
            # A cancelled freeze is undone by scheduling it again (under a new id);
            # a stopped one cannot be restarted.
            again = {
                "freeze_start_date": ended["freeze_start_date"],
                "freeze_end_date": ended["freeze_end_date"],
                "reason": ended.get("reason") or "Restored",
            }
            undo = lambda: self._call("POST", path + "/freezes", again)  # noqa: E731
        return await self._reread_subscription(cmd.key, path, undo)

    # --- plumbing ---------------------------------------------------------------------

    def _invoice_path(self, key: Key, errors: Sequence[UserError] = ()) -> str:
        """The invoice's path, or WriteRejected with ``errors`` (before any call)."""
        ids = key_ids(key, EntityType.INVOICE)
        found = [] if ids is not None else [key_error(key, EntityType.INVOICE)]
        if found or errors:
            raise WriteRejected([*found, *errors])
        assert ids is not None
        return f"/tenant/{key.tenant}/clients/{ids[0]}/invoices/{ids[1]}"

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        """One upstream call; a UFP refusal becomes WriteRejected with mapped errors."""
        try:
            return await self.http.request(method, path, json=body)
        except UpstreamError as exc:
            rejected = refusal(exc)
            if rejected is None:
                raise
            raise rejected from exc

    async def _deliver(self, path: str, channels: Sequence[Channel]) -> tuple[ChannelResult, ...]:
        asked = [Channel(c) for c in channels]
        raws: list[ChannelDelivery] = await self._call("POST", path, [c.value for c in asked])
        if not isinstance(raws, list):
            # The documented answer is an array (sent as text/plain); anything else is not.
            raise UpstreamBadResponse(
                self.http.source, "channel results are not an array", method="POST", url=path
            )
        return tuple(_channel_result(raw, asked, n) for n, raw in enumerate(raws))

    async def _reread_invoice(self, key: Key, path: str, *, sent: bool) -> Any:
        """The invoice after a send; a send that went out cannot be taken back."""
        try:
            raw = await self.http.request("GET", path)
        except UpstreamError as exc:
            if sent:
                raise PartialWrite(
                    f"sent, but the invoice could not be read back: {exc}", [key], exc
                ) from exc
            raise refusal(exc) or exc from exc
        return map_invoice(raw, key.tenant)

    async def _reread_subscription(self, key: Key, path: str, undo: Undo | None) -> WriteResult:
        """The membership after a freeze change, or the change undone when it cannot be read."""
        try:
            raw = await self.http.request("GET", path)
        except UpstreamError as exc:
            await _undo(undo, key, exc)
        return WriteResult(subscription=map_subscription(raw, key.tenant))


async def _undo(undo: Undo | None, key: Key, cause: UpstreamError) -> NoReturn:
    """Undo a write whose result could not be read: raise the cause, or PartialWrite."""
    if undo is None:
        raise PartialWrite(
            f"changed, but could not be read back or undone: {cause}", [key], cause
        ) from cause
    try:
        await undo()
    except (UpstreamError, WriteRejected) as failed:
        raise PartialWrite(
            f"changed, could not be read back, and undoing failed: {failed}", [key], cause
        ) from failed
    raise refusal(cause) or cause from cause


def _membership_call(cmd: SubscriptionCommand) -> tuple[str, str, Any]:
    """Method, path below the subscription, and body of a one-call membership operation."""
    op = cmd.op
    if op is SubscriptionOp.CANCEL:
        body: dict[str, str] = {"reason": (cmd.reason or "").strip()}
        if cmd.on is not None:
            body["cancellation_date"] = cmd.on.isoformat()
        return "POST", "/cancel", body
    if op is SubscriptionOp.REACTIVATE:
        return "POST", "/reactivate", None
    if op is SubscriptionOp.CHANGE_START:
        return "PUT", "/start_date", {"start_date": _day(cmd.on)}
    if op is SubscriptionOp.CHANGE_END:
        return "PUT", "/end_date", {"end_date": _day(cmd.on)}
    if op is SubscriptionOp.VOID:
        return "POST", "/void", {"reason": (cmd.reason or "").strip()}
    raise AssertionError(op)


def _pick_freeze(freezes: Sequence[Freeze], cmd: SubscriptionCommand) -> int:
    """The freeze a stop (the active one) or a cancel (the next scheduled one) acts on."""
    if cmd.op is SubscriptionOp.STOP_FREEZE:
        active = [f for f in freezes if f["status"] == "Active"]
        if not active:
            raise WriteRejected(
                [UserError((), ErrorCode.INVALID_STATE, "no active freeze to stop")]
            )
        return active[0]["freeze_id"]
    scheduled = sorted(
        (f for f in freezes if f["status"] == "Scheduled"), key=lambda f: f["freeze_start_date"]
    )
    if cmd.from_date is not None:
        day = cmd.from_date.isoformat()
        scheduled = [f for f in scheduled if f["freeze_start_date"] == day]
        if not scheduled:
            raise WriteRejected(
                [
                    UserError(
                        ("from_date",),
                        ErrorCode.NOT_FOUND,
                        f"no scheduled freeze starts on {day}",
                    )
                ]
            )
    if not scheduled:
        raise WriteRejected(
            [UserError((), ErrorCode.INVALID_STATE, "no scheduled freeze to cancel")]
        )
    return scheduled[0]["freeze_id"]


def _channel_result(raw: ChannelDelivery, asked: Sequence[Channel], n: int) -> ChannelResult:
    """One UFP per-channel outcome; its error points at the channel asked for."""
    name = raw.get("channel")
    known = {c.value: c for c in Channel}
    channel = known.get(name or "") or (asked[n] if n < len(asked) else Channel.NONE)
    success = bool(raw.get("success"))
    error = raw.get("error")
    mapped = None
    if error and (not success or error.get("errorCode")):
        mapped = user_error(error)
        if n < len(asked):
            mapped = replace(mapped, field=("channels", str(n)))
    return ChannelResult(channel=channel, success=success, error=mapped)
