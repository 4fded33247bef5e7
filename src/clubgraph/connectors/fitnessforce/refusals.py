"""UFP refusals as user errors: one table from ``errorCode`` to unified code and field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ...commands import ErrorCode, UserError, WriteRejected
from ...errors import UpstreamConflict, UpstreamError, UpstreamNotFound, UpstreamValidationError

Path = tuple[str, ...]

# UFP errorCode -> (unified code, command field). A field of None is the one the
# error's ``identifier`` names (the code applies to any field), through FIELDS.
ERRORS: Mapping[str, tuple[ErrorCode, Path | None]] = {
    "FieldRequired": (ErrorCode.REQUIRED, None),
    "InvalidDate": (ErrorCode.INVALID, None),
    "InvalidRequestBody": (ErrorCode.INVALID, ()),
    "InvalidIdentifier": (ErrorCode.NOT_FOUND, None),
    "TenantNotFound": (ErrorCode.NOT_FOUND, ("key",)),
    "ClientNotFound": (ErrorCode.NOT_FOUND, ("key",)),
    "InvoiceNotFound": (ErrorCode.NOT_FOUND, ("key",)),
    "SubscriptionNotFound": (ErrorCode.NOT_FOUND, ("key",)),
    "FreezeNotFound": (ErrorCode.NOT_FOUND, ("extra", "freeze_id")),
    "InvoiceAlreadyVoid": (ErrorCode.ALREADY_DONE, ()),
    "InvoiceHasPayments": (ErrorCode.INVALID_STATE, ()),
    "InvoiceHasNoBalance": (ErrorCode.INVALID_STATE, ()),
    "InvalidChannel": (ErrorCode.INVALID, ("channels",)),
    "ClientEmailMissing": (ErrorCode.CONTACT_REQUIRED, ("channels",)),
    "ClientMobileMissing": (ErrorCode.CONTACT_REQUIRED, ("channels",)),
    "SubscriptionNotEditable": (ErrorCode.INVALID_STATE, ()),
    "SubscriptionNotActive": (ErrorCode.INVALID_STATE, ()),
    "SubscriptionNotCancelled": (ErrorCode.INVALID_STATE, ()),
    "SubscriptionAlreadyVoid": (ErrorCode.ALREADY_DONE, ()),
    "StartDateAfterEndDate": (ErrorCode.INVALID, ("on",)),
    "EndDateBeforeStartDate": (ErrorCode.INVALID, ("on",)),
    "InvalidCancellationDate": (ErrorCode.INVALID, ("on",)),
    "FreezeEndBeforeStart": (ErrorCode.INVALID, ("until_date",)),
    "FreezeOverlap": (ErrorCode.INVALID, ("from_date",)),
    "FreezeNotActive": (ErrorCode.INVALID_STATE, ()),
    "FreezeNotScheduled": (ErrorCode.INVALID_STATE, ()),
}

# UFP request field (a ValidationError's identifier) -> command field.
FIELDS: Mapping[str, Path] = {
    "reason": ("reason",),
    "cancellation_date": ("on",),
    "start_date": ("on",),
    "end_date": ("on",),
    "freeze_start_date": ("from_date",),
    "freeze_end_date": ("until_date",),
    "channel": ("channels",),
    "tenant_id": ("key",),
    "client_id": ("key",),
    "invoice_id": ("key",),
    "subscription_id": ("key",),
    "freeze_id": ("extra", "freeze_id"),
}


def user_error(raw: Mapping[str, Any]) -> UserError:
    """One UFP ValidationError as a UserError; an unknown code stays, as UNKNOWN."""
    code = raw.get("errorCode") or None
    identifier = raw.get("identifier")
    unified, path = ERRORS.get(code or "", (ErrorCode.UNKNOWN, None))
    if path is None:
        path = FIELDS.get(identifier, ()) if isinstance(identifier, str) else ()
    message = raw.get("errorMessage") or code or "refused by FitnessForce"
    return UserError(path, unified, str(message), None if code is None else str(code))


def user_errors(raws: Iterable[Mapping[str, Any]]) -> list[UserError]:
    """UFP ValidationErrors (an error body's ``errors``) as UserErrors."""
    return [user_error(raw) for raw in raws]


def refusal(exc: UpstreamError) -> WriteRejected | None:
    """The upstream's refusal as WriteRejected; None for a failure that is not a refusal."""
    if not isinstance(exc, UpstreamValidationError | UpstreamConflict | UpstreamNotFound):
        return None
    if not exc.details:
        # Not a UFP refusal (no ValidationError): a proxy or an outage, not the caller's fault.
        return None
    return WriteRejected(
        [
            user_error({"errorCode": d.code, "errorMessage": d.message, "identifier": d.field})
            for d in exc.details
        ]
    )
