"""TimeTap's documented write rules, checked before any upstream call.

Each check gives the unified code TimeTap's own refusal of the same mistake maps to
(see ``rejections``): quantity and rate are required item properties, a quantity is
a whole number of at least one, an amount has at most two decimals.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from ...commands import (
    CreateInvoice,
    ErrorCode,
    LineChange,
    LineInput,
    UpdateInvoice,
    UserError,
    WriteRejected,
)
from ...domain import EntityType, Key, Source

CENT = Decimal("0.01")
Path = tuple[str, ...]


def refuse(field: Path, code: ErrorCode, message: str) -> UserError:
    """An error clubgraph found itself (no source code)."""
    return UserError(field, code, message)


def raise_all(errors: Sequence[UserError]) -> None:
    """Refuse the write when any check failed."""
    if errors:
        raise WriteRejected(errors)


def _amount(value: Decimal | None, field: Path, errors: list[UserError]) -> None:
    if value is None:
        return
    try:
        exact = value.is_finite() and value.quantize(CENT) == value
    except InvalidOperation:
        exact = False
    if not exact:
        errors.append(refuse(field, ErrorCode.INVALID, "an amount has at most 2 decimals"))


def _quantity(value: Decimal | None, field: Path, errors: list[UserError]) -> None:
    if value is None:
        return
    if not value.is_finite() or value != value.to_integral_value():
        errors.append(refuse(field, ErrorCode.INVALID, "quantity must be a whole number"))
    elif value < 1:
        errors.append(refuse(field, ErrorCode.INVALID, "quantity must be at least 1"))


def check_line(line: LineInput, at: Path) -> list[UserError]:
    """The rules of one new line at path ``at``."""
    errors: list[UserError] = []
    # The dataclass types forbid None, but a caller building it from input may not.
    if line.quantity is None:
        errors.append(refuse((*at, "quantity"), ErrorCode.REQUIRED, "quantity is required"))
    if line.unit_price is None:
        errors.append(refuse((*at, "unit_price"), ErrorCode.REQUIRED, "unit_price is required"))
    _quantity(line.quantity, (*at, "quantity"), errors)
    _amount(line.unit_price, (*at, "unit_price"), errors)
    _amount(line.discount, (*at, "discount"), errors)
    if line.tax_rate is not None and not (line.tax_rate.is_finite() and line.tax_rate >= 0):
        errors.append(
            refuse((*at, "tax_rate"), ErrorCode.INVALID, "tax_rate must be a percentage >= 0")
        )
    if line.line_id is not None:
        errors.append(
            refuse((*at, "line_id"), ErrorCode.INVALID, "TimeTap assigns its own line ids")
        )
    return errors


def check_lines(lines: Sequence[LineInput]) -> list[UserError]:
    """The rules of new lines: at least one, each valid."""
    if not lines:
        return [refuse(("lines",), ErrorCode.REQUIRED, "at least one line is required")]
    return [e for n, line in enumerate(lines) for e in check_line(line, ("lines", str(n)))]


def check_create(cmd: CreateInvoice) -> list[UserError]:
    """The rules of a new invoice: a TimeTap client, lines, nothing TimeTap cannot keep."""
    errors: list[UserError] = []
    if cmd.client is None:
        errors.append(refuse(("client",), ErrorCode.REQUIRED, "TimeTap invoices need a client"))
    elif cmd.tenant is not None and cmd.tenant != cmd.client.tenant:
        errors.append(
            refuse(("tenant",), ErrorCode.INVALID, "tenant differs from the client's business")
        )
    unsupported = {
        "recipient": cmd.recipient is not None,
        "total": cmd.total is not None,
        "discount_amount": cmd.discount_amount is not None,
        "discount_percent": cmd.discount_percent is not None,
        "accept_cash": cmd.accept_cash is not None,
        "accept_card": cmd.accept_card is not None,
        "accept_ach": cmd.accept_ach is not None,
        "custom_json": cmd.custom_json is not None,
        "send": cmd.send,
    }
    errors.extend(
        refuse((name,), ErrorCode.INVALID, f"TimeTap invoices have no {name}")
        for name, given in unsupported.items()
        if given
    )
    errors.extend(check_lines(cmd.lines))
    return errors


def check_update(cmd: UpdateInvoice) -> list[UserError]:
    """The rules of an invoice change: TimeTap keeps no recipient on an invoice."""
    if cmd.recipient is not None:
        return [refuse(("recipient",), ErrorCode.INVALID, "TimeTap invoices have no recipient")]
    return []


def check_void(reason: str | None) -> list[UserError]:
    """TimeTap keeps no reason for a void."""
    if reason:
        return [refuse(("reason",), ErrorCode.INVALID, "TimeTap keeps no reason for a void")]
    return []


def check_change(change: LineChange) -> list[UserError]:
    """The rules of a line change (paths are the change's own fields)."""
    errors: list[UserError] = []
    _quantity(change.quantity, ("quantity",), errors)
    _amount(change.unit_price, ("unit_price",), errors)
    _amount(change.discount, ("discount",), errors)
    return errors


def _not_found(field: Path, what: str, key: Key) -> WriteRejected:
    return WriteRejected(
        [refuse(field, ErrorCode.NOT_FOUND, f"{key.id!r} is not a TimeTap {what}")]
    )


def _is(key: Key, kind: EntityType) -> bool:
    return key.source is Source.TIMETAP and key.type is kind


def client_id(key: Key, field: Path = ("client",)) -> int:
    """The clientId a client key names."""
    if not _is(key, EntityType.CLIENT) or not key.id.isdigit():
        raise _not_found(field, "client", key)
    return int(key.id)


def invoice_id(key: Key, field: Path = ("key",)) -> int:
    """The invoiceId an invoice key names."""
    if not _is(key, EntityType.INVOICE) or not key.id.isdigit():
        raise _not_found(field, "invoice", key)
    return int(key.id)


def item_ids(key: Key, field: Path = ("key",)) -> tuple[int, int]:
    """The (invoiceId, invoiceItemId) a line key ``"{invoiceId}/{invoiceItemId}"`` names."""
    invoice, _, item = key.id.partition("/")
    if not _is(key, EntityType.INVOICE_ITEM) or not (invoice.isdigit() and item.isdigit()):
        raise _not_found(field, "invoice line", key)
    return int(invoice), int(item)
