"""ClubCollect writes: invoices created one import each, sent, changed, retracted, deleted.

An invoice lives in an import, and ClubCollect sends whole imports; clubgraph gives
every invoice it creates an import of its own, so that sending it sends exactly that
invoice. Every write re-reads or takes the changed invoice from the response and
updates the index, so lists show the change at once.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import NoReturn, TypeVar, cast

from ...commands import (
    Capability,
    CreateInvoice,
    ErrorCode,
    NotSupported,
    PartialWrite,
    UpdateInvoice,
    UserError,
    WriteRejected,
    WriteResult,
)
from ...domain import EntityType, InvoiceRecord, Key, Source
from ...errors import UpstreamError, UpstreamNotFound, UpstreamTimeout, UpstreamUnavailable
from . import payloads, rules
from .api import ClubCollectAPI
from .codes import Command, rejection, user_error
from .index import Company, InvoiceIndex
from .mapping import invoice_key, map_invoice, parse_datetime
from .types import CustomerJSON, InvoiceJSON

T = TypeVar("T")


class LinesFixed(NotSupported):
    """A line operation: ClubCollect fixes an invoice's lines when it is created."""

    def __init__(self, capability: Capability) -> None:
        super().__init__(Source.CLUBCOLLECT.value, capability)
        message = (
            "ClubCollect invoice lines cannot be changed after creation: void the invoice "
            "and create a new one."
        )
        WriteRejected.__init__(self, [UserError((), ErrorCode.NOT_SUPPORTED, message)])


class ClubCollectWrites:
    """The write operations of one ClubCollect connector."""

    def __init__(self, api: ClubCollectAPI, index: InvoiceIndex) -> None:
        self.api = api
        self.index = index

    # --- create -----------------------------------------------------------------------

    async def create_invoice(self, cmd: CreateInvoice) -> WriteResult:
        """POST an import, then the invoice in it (and transmit it when ``cmd.send``)."""
        company = await self._company_for(cmd)
        stored, membership = await self._stored_customer(cmd)
        rules.require(rules.create_errors(cmd, company.currency))
        imp = await self._refusing(
            self.api.create_import(company.id, f"clubgraph {cmd.number}".strip(), 1), cmd
        )
        import_id = imp["import_id"]
        self.index.remember_import(import_id, company.id)
        body = payloads.new_invoice(cmd, import_id, stored, membership)
        try:
            raw = await self.api.create_invoice(body)
        except Exception as exc:
            await self._undo_import(import_id, (), exc, cmd)
        key = invoice_key(company.id, raw["invoice_id"])
        if not cmd.send:
            return WriteResult(invoice=self._store(raw, company))
        try:
            await self.api.transmit_import(import_id)
        except Exception as exc:
            await self._undo_import(import_id, (key,), exc, cmd)
        raw = await self._read_back(key, "created and sent")
        return WriteResult(invoice=self._store(raw, company), at=_when(raw, "transmitted_at"))

    async def _undo_import(
        self, import_id: str, created: tuple[Key, ...], exc: Exception, cmd: CreateInvoice
    ) -> NoReturn:
        """Delete the import (and any invoice in it); raise why the write failed."""
        try:
            await self.api.delete_import(import_id)
        except UpstreamNotFound:
            pass
        except Exception as undo:
            maybe = isinstance(exc, UpstreamTimeout | UpstreamUnavailable) and not created
            message = (
                f"creating a ClubCollect invoice failed ({exc}) and deleting import "
                f"{import_id}, made for it, failed too ({undo}): the import is still there"
                + (" and may hold the invoice" if maybe else "")
            )
            raise PartialWrite(message, created, exc) from exc
        self._raise(exc, cmd)

    async def _company_for(self, cmd: CreateInvoice) -> Company:
        """The company to create in: ``tenant``, the client's, or the only one there is."""
        companies = await self.index.companies()
        tenant = cmd.tenant
        client = cmd.client
        if client is not None:
            if (
                client.type is not EntityType.CLIENT
                or client.source is not Source.CLUBCOLLECT
                or client.tenant not in companies
            ):
                rules.refuse(UserError(("client",), ErrorCode.NOT_FOUND, "No such client."))
            if tenant is not None and tenant != client.tenant:
                message = f"The client belongs to company {client.tenant}."
                rules.refuse(UserError(("tenant",), ErrorCode.INVALID, message))
            tenant = client.tenant
        if tenant is None and len(companies) == 1:
            tenant = next(iter(companies))
        if tenant is None:
            message = "Name the company (tenant) to create the invoice in."
            rules.refuse(UserError(("tenant",), ErrorCode.REQUIRED, message))
        if tenant not in companies:
            rules.refuse(user_error("invalid_company_id", cmd, upstream=False))
        return companies[tenant]

    async def _stored_customer(self, cmd: CreateInvoice) -> tuple[CustomerJSON | None, str | None]:
        """The customer of ``cmd.client`` as the index holds it, and its membership number."""
        if cmd.client is None:
            return None, None
        await self.index.ready()
        (client,) = await self.index.clients([cmd.client])
        if client is None:
            rules.refuse(UserError(("client",), ErrorCode.NOT_FOUND, "No such client."))
        customer = cast(CustomerJSON, dict(client.raw))
        # A client's id is its membership number unless it is an email or a name hash.
        member = client.key.id
        return customer, None if "@" in member or member.startswith("h-") else member

    # --- update, send, void, delete -----------------------------------------------------

    async def update_invoice(self, cmd: UpdateInvoice) -> WriteResult:
        """PUT the recipient and number; the answer is the changed invoice."""
        company, _ = await self._known(cmd.key, cmd)
        rules.require(rules.update_errors(cmd))
        raw = await self._refusing(
            self.api.update_invoice(cmd.key.id, payloads.invoice_changes(cmd)), cmd, cmd.key
        )
        return WriteResult(invoice=self._store(raw, company))

    async def send_invoice(self, key: Key) -> WriteResult:
        """Transmit the invoice's import, when the invoice is all it holds."""
        company, stored = await self._known(key)
        if stored is not None and _transmitted(stored):
            # Transmission is final: the index cannot be wrong about one.
            rules.refuse(_already_sent())
        if stored is not None:
            import_id = stored["import_id"]
        else:
            import_id = (await self._refusing(self.api.invoice(key.id), None, key))["import_id"]
        imp = await self._refusing(self.api.import_(import_id), None, key)
        if imp["transmitted"]:
            rules.refuse(_already_sent())
        others = [i for i in imp["invoice_ids"] if i != key.id]
        if key.id not in imp["invoice_ids"]:
            self.index.remove(key)
            rules.refuse(user_error("invalid_invoice_id", upstream=False))
        if others:
            message = (
                f"This invoice shares its import with {len(others)} other invoice(s), and "
                "ClubCollect sends a whole import at once: sending it would send them too. "
                "Invoices created through clubgraph have an import each and can be sent alone."
            )
            rules.refuse(UserError((), ErrorCode.INVALID_STATE, message))
        await self._refusing(self.api.transmit_import(import_id), None, key)
        raw = await self._read_back(key, "sent")
        return WriteResult(invoice=self._store(raw, company), at=_when(raw, "transmitted_at"))

    async def void_invoice(self, key: Key, reason: str | None) -> WriteResult:
        """Credit what is outstanding and retract the invoice, ``reason`` as description."""
        company, stored = await self._known(key)
        rules.require(rules.reason_errors(reason))
        if stored is not None and stored.get("retracted_at"):
            # A retraction is final: the index cannot be wrong about one.
            rules.refuse(user_error("already_retracted", upstream=False))
        raw = await self._refusing(
            self.api.credit_and_retract(key.id, (reason or "").strip()), None, key
        )
        return WriteResult(invoice=self._store(raw, company), at=_when(raw, "retracted_at"))

    async def delete_invoice(self, key: Key) -> WriteResult:
        """DELETE an invoice that is not transmitted yet."""
        _, stored = await self._known(key)
        if stored is not None and _transmitted(stored):
            # Transmission is final: the index cannot be wrong about one.
            rules.refuse(user_error("invoice_already_transmitted", upstream=False))
        await self._refusing(self.api.delete_invoice(key.id), None, key)
        self.index.remove(key)
        return WriteResult(removed=key)

    # --- plumbing ---------------------------------------------------------------------

    async def _refusing(self, call: Awaitable[T], cmd: Command, key: Key | None = None) -> T:
        """Await an upstream call; a refusal becomes ``WriteRejected``."""
        try:
            return await call
        except UpstreamError as exc:
            if key is not None and isinstance(exc, UpstreamNotFound):
                self.index.remove(key)
            self._raise(exc, cmd)

    @staticmethod
    def _raise(exc: Exception, cmd: Command) -> NoReturn:
        refused = rejection(exc, cmd) if isinstance(exc, UpstreamError) else None
        if refused is not None:
            raise refused from exc
        raise exc

    async def _read_back(self, key: Key, done: str) -> InvoiceJSON:
        """GET an invoice a write changed; failing now, the write is done but unseen."""
        try:
            return await self.api.invoice(key.id)
        except UpstreamError as exc:
            message = f"the ClubCollect invoice {key.id} was {done}, but reading it back failed"
            raise PartialWrite(message, (key,), exc) from exc

    def _store(self, raw: InvoiceJSON, company: Company) -> InvoiceRecord:
        record = map_invoice(raw, company.id, company.currency)
        self.index.upsert(record)
        return record

    async def _known(self, key: Key, cmd: Command = None) -> tuple[Company, InvoiceJSON | None]:
        """The invoice's company and its last indexed JSON; NOT_FOUND for a foreign key."""
        companies = await self.index.companies()
        stored = await self.index.stored(key.id) if key.tenant in companies else {}
        if (
            key.type is not EntityType.INVOICE
            or key.source is not Source.CLUBCOLLECT
            or key.tenant not in companies
            or (stored and key.tenant not in stored)
        ):
            rules.refuse(user_error("invalid_invoice_id", cmd, upstream=False))
        return companies[key.tenant], stored.get(key.tenant)


def _already_sent() -> UserError:
    return user_error(
        "import_already_transmitted", message="The invoice has already been sent.", upstream=False
    )


def _transmitted(raw: InvoiceJSON) -> bool:
    return bool(raw.get("transmitted_at")) or raw.get("status", "draft") != "draft"


def _when(raw: InvoiceJSON, name: str) -> datetime | None:
    value = raw.get(name)
    return parse_datetime(value) if isinstance(value, str) else None
