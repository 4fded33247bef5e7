"""TimeTap writes: invoices and their lines, each returning what it changed, re-read.

Upstream calls per write (reads marked GET):
create_invoice    POST /invoices/client/{clientId}?invoiceType=INVOICE, then PUT /invoices
                  only when a number, dates or note are set (undone by DELETE /invoices/{id})
update_invoice    GET /invoices/{id}, PUT /invoices
void_invoice      GET /invoices/{id}, PUT /invoices (status VOID, subStatus Manual)
delete_invoice    DELETE /invoices/{id}
add_invoice_items GET /invoices/{id}, POST /invoiceItems, GET /invoices/{id}
update_invoice_item GET /invoices/{id}, PUT /invoiceItem, GET /invoices/{id}
remove_invoice_item GET /invoices/{id}, DELETE /invoiceItem/{id}, GET /invoices/{id}
A PUT carries the seed's required properties, hence the GET before it; the GET after a
line write re-reads the invoice TimeTap re-priced.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...commands import (
    CreateInvoice,
    ErrorCode,
    LineChange,
    LineInput,
    PartialWrite,
    UpdateInvoice,
    UserError,
    WriteRejected,
    WriteResult,
)
from ...domain import InvoiceItemRecord, InvoiceRecord, Key
from ...errors import UpstreamBadResponse, UpstreamError
from ...http import Params, UpstreamHTTP
from . import mapping, payloads, rules
from .auth import TimeTapKeyAuth
from .rejections import raise_mapped


@dataclass(frozen=True, slots=True)
class Business:
    """A business the configured keys reach: its key's index and its currency."""

    business_id: int
    key_index: int
    currency: str


Resolve = Callable[[str], Awaitable[Business | None]]


def _invoice_json(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or "invoiceId" not in body or "businessId" not in body:
        raise UpstreamBadResponse("timetap", "invoice response without invoiceId")
    return body


def _active_line(invoice: Mapping[str, Any], item_id: int) -> Mapping[str, Any] | None:
    lines = invoice.get("invoiceItem") or ()
    return next(
        (i for i in lines if i.get("invoiceItemId") == item_id and i.get("active", True)), None
    )


def _record_line(record: InvoiceRecord, key: Key) -> InvoiceItemRecord | None:
    return next((i for i in record.items or () if i.key == key), None)


class TimeTapWrites:
    """The writes of one connector, over its HTTP client and per-business keys."""

    def __init__(
        self, http: UpstreamHTTP, auths: Sequence[TimeTapKeyAuth], resolve: Resolve
    ) -> None:
        self._http = http
        self._auths = auths
        self._resolve = resolve

    # --- plumbing ----------------------------------------------------------------

    async def _business(self, tenant: str, field: tuple[str, ...]) -> Business:
        business = await self._resolve(tenant)
        if business is None:
            raise WriteRejected(
                [rules.refuse(field, ErrorCode.NOT_FOUND, f"no TimeTap business {tenant}")]
            )
        return business

    async def _send(
        self,
        business: Business,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Params | None = None,
    ) -> Any:
        """One call; an upstream error is raised as it is (for compensation)."""
        auth = self._auths[business.key_index]
        return await self._http.request(method, path, json=json, params=params, auth=auth)

    async def _call(
        self,
        business: Business,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Params | None = None,
    ) -> Any:
        """One call; a refusal is raised as ``WriteRejected``."""
        try:
            return await self._send(business, method, path, json=json, params=params)
        except UpstreamError as exc:
            raise_mapped(exc)

    async def _read_invoice(self, business: Business, invoice_id: int) -> dict[str, Any]:
        return _invoice_json(await self._call(business, "GET", f"/invoices/{invoice_id}"))

    # --- invoices ----------------------------------------------------------------

    async def create_invoice(self, cmd: CreateInvoice) -> WriteResult:
        rules.raise_all(rules.check_create(cmd))
        assert cmd.client is not None  # checked above
        client_id = rules.client_id(cmd.client)
        business = await self._business(cmd.client.tenant, ("client",))
        if cmd.currency is not None and cmd.currency.upper() != business.currency.upper():
            raise WriteRejected(
                [
                    rules.refuse(
                        ("currency",),
                        ErrorCode.INVALID,
                        f"business {business.business_id} bills in {business.currency}",
                    )
                ]
            )
        lines = [payloads.new_line(line, business.business_id, client_id) for line in cmd.lines]
        created = _invoice_json(
            await self._call(
                business,
                "POST",
                f"/invoices/client/{client_id}",
                json=lines,
                params={"invoiceType": "INVOICE"},
            )
        )
        changes = payloads.invoice_changes(
            number=cmd.number, due_on=cmd.due_on, note=cmd.note, issued_on=cmd.issued_on
        )
        if not changes:
            return WriteResult(invoice=mapping.map_invoice(created))
        # TimeTap creates from lines alone: the invoice's own properties take a second call.
        body = {**payloads.invoice_identity(created), **changes}
        try:
            updated = _invoice_json(await self._send(business, "PUT", "/invoices", json=body))
        except UpstreamError as exc:
            await self._undo_create(business, created, exc)
            raise_mapped(exc)
        return WriteResult(invoice=mapping.map_invoice(updated))

    async def _undo_create(
        self, business: Business, created: Mapping[str, Any], cause: UpstreamError
    ) -> None:
        """Delete an invoice whose creation could not be completed."""
        invoice_id = created["invoiceId"]
        try:
            await self._send(business, "DELETE", f"/invoices/{invoice_id}")
        except UpstreamError as exc:
            key = mapping.invoice_key(str(created["businessId"]), invoice_id)
            raise PartialWrite(
                f"invoice {invoice_id} was created but could not be completed or deleted",
                created=[key],
                cause=cause,
            ) from exc

    async def update_invoice(self, cmd: UpdateInvoice) -> WriteResult:
        rules.raise_all(rules.check_update(cmd))
        invoice_id = rules.invoice_id(cmd.key)
        business = await self._business(cmd.key.tenant, ("key",))
        current = await self._read_invoice(business, invoice_id)
        changes = payloads.invoice_changes(number=cmd.number, due_on=cmd.due_on, note=cmd.note)
        if not changes:
            return WriteResult(invoice=mapping.map_invoice(current))
        body = {**payloads.invoice_identity(current), **changes}
        updated = _invoice_json(await self._call(business, "PUT", "/invoices", json=body))
        return WriteResult(invoice=mapping.map_invoice(updated))

    async def void_invoice(self, key: Key, reason: str | None) -> WriteResult:
        rules.raise_all(rules.check_void(reason))
        invoice_id = rules.invoice_id(key)
        business = await self._business(key.tenant, ("key",))
        current = await self._read_invoice(business, invoice_id)
        if current.get("status") == "VOID" and current.get("active", True):
            raise WriteRejected(
                [UserError((), ErrorCode.ALREADY_DONE, f"invoice {invoice_id} is already void")]
            )
        # The seed's rule: a status change goes with subStatus "Manual".
        body = {**payloads.invoice_identity(current), "status": "VOID", "subStatus": "Manual"}
        updated = _invoice_json(await self._call(business, "PUT", "/invoices", json=body))
        return WriteResult(invoice=mapping.map_invoice(updated))

    async def delete_invoice(self, key: Key) -> WriteResult:
        invoice_id = rules.invoice_id(key)
        business = await self._business(key.tenant, ("key",))
        # A soft delete: TimeTap answers the invoice as it is now (active false, DELETED).
        deleted = _invoice_json(await self._call(business, "DELETE", f"/invoices/{invoice_id}"))
        return WriteResult(invoice=mapping.map_invoice(deleted), removed=key)

    # --- lines -------------------------------------------------------------------

    async def add_invoice_items(self, key: Key, lines: Sequence[LineInput]) -> WriteResult:
        rules.raise_all(rules.check_lines(lines))
        invoice_id = rules.invoice_id(key)
        business = await self._business(key.tenant, ("key",))
        current = await self._read_invoice(business, invoice_id)
        client_id = int(current["client"]["clientId"])
        body = [
            payloads.new_line(line, business.business_id, client_id, invoice_id) for line in lines
        ]
        # One call: TimeTap stores the whole array or none of it.
        await self._call(business, "POST", "/invoiceItems", json=body)
        fresh = await self._read_invoice(business, invoice_id)
        return WriteResult(invoice=mapping.map_invoice(fresh))

    async def _line(self, key: Key) -> tuple[Business, dict[str, Any], Mapping[str, Any]]:
        """The business, current invoice JSON and current JSON of an active line."""
        invoice_id, item_id = rules.item_ids(key)
        business = await self._business(key.tenant, ("key",))
        current = await self._read_invoice(business, invoice_id)
        line = _active_line(current, item_id)
        if line is None:
            raise WriteRejected(
                [rules.refuse(("key",), ErrorCode.NOT_FOUND, f"no line {key.id} in TimeTap")]
            )
        # Lines embedded in an invoice may leave out what the invoice says already.
        owner = {"clientId": current["client"]["clientId"], "businessId": business.business_id}
        return business, current, {**owner, **line, "invoiceId": invoice_id}

    async def update_invoice_item(self, key: Key, change: LineChange) -> WriteResult:
        rules.raise_all(rules.check_change(change))
        business, current, line = await self._line(key)
        if payloads.has_change(change):
            await self._call(
                business, "PUT", "/invoiceItem", json=payloads.line_update(line, change)
            )
            current = await self._read_invoice(business, line["invoiceId"])
        fresh = mapping.map_invoice(current)
        item = _record_line(fresh, key)
        if item is None:
            raise UpstreamBadResponse("timetap", f"line {key.id} missing after its update")
        return WriteResult(invoice=fresh, item=item)

    async def remove_invoice_item(self, key: Key) -> WriteResult:
        business, _, line = await self._line(key)
        await self._call(business, "DELETE", f"/invoiceItem/{line['invoiceItemId']}")
        fresh = await self._read_invoice(business, line["invoiceId"])
        return WriteResult(invoice=mapping.map_invoice(fresh), removed=key)
