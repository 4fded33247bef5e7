"""The mutation root: bill, correct, void and send invoices and manage memberships,
whichever platform a club uses. Relay-style: one input, one payload, per mutation."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import strawberry

from .. import ids
from ..commands import (
    SUBSCRIPTION_CAPABILITY,
    Address,
    Capability,
    Channel,
    CreateInvoice,
    ErrorCode,
    LineChange,
    LineInput,
    Recipient,
    SubscriptionCommand,
    SubscriptionOp,
    UpdateInvoice,
)
from ..domain import EntityType, Key
from .enums import Source
from .invoice import Invoice, InvoiceItem
from .node import Ctx
from .scope import may_write_to
from .subscription import Subscription
from .writing import MutationError, Outcome, refused, run_write, target, to_graphql

strawberry.enum(Channel, name="BalanceLinkChannel", description="How to send a balance link.")

_KEY = (
    "Keeps the request safe to retry: a retry with the same key returns the first "
    "result and never writes twice. Use a new key for a new request."
)
_CLIENT_MUTATION_ID = "Echoed back in the payload (Relay)."
_INPUT = strawberry.argument(description="What to do; see the input type's fields.")


# --- inputs ----------------------------------------------------------------------------


@strawberry.input(description="What every mutation input carries.")
class MutationInput:
    idempotency_key: str = strawberry.field(description=_KEY)
    client_mutation_id: str | None = strawberry.field(default=None, description=_CLIENT_MUTATION_ID)


@strawberry.input(description="A postal address.")
class AddressInput:
    street: str | None = strawberry.field(default=None, description="Street name.")
    house_number: str | None = strawberry.field(default=None, description="House number.")
    zip_code: str | None = strawberry.field(default=None, description="Postal code.")
    city: str | None = strawberry.field(default=None, description="City.")
    country_code: str | None = strawberry.field(
        default=None, description="ISO 3166-1 alpha-2 country code, e.g. NL."
    )


@strawberry.input(
    description="Who an invoice is addressed to, where the source keeps it on the invoice "
    "(ClubCollect). ClubCollect needs an email, a phone or an address."
)
class RecipientInput:
    first_name: str | None = strawberry.field(default=None, description="Given name.")
    last_name: str | None = strawberry.field(default=None, description="Family name.")
    email: str | None = strawberry.field(default=None, description="Email address.")
    phone: str | None = strawberry.field(default=None, description="Phone number.")
    address: AddressInput | None = strawberry.field(default=None, description="Postal address.")
    membership_number: str | None = strawberry.field(
        default=None, description="The club's membership number of the person."
    )

    def to_domain(self) -> Recipient:
        address = None
        if self.address is not None:
            address = Address(**dataclasses.asdict(self.address))  # type: ignore[call-overload]
        return Recipient(
            first_name=self.first_name,
            last_name=self.last_name,
            email=self.email,
            phone=self.phone,
            address=address,
            membership_number=self.membership_number,
        )


@strawberry.input(
    description="One invoice line. Amounts are exact decimals in the invoice's currency."
)
class InvoiceLineInput:
    description: str = strawberry.field(description="What the line is for.")
    quantity: Decimal = strawberry.field(description='How many, e.g. "1" or "2.5".')
    unit_price: Decimal = strawberry.field(description='Price of one, e.g. "49.95".')
    discount: Decimal | None = strawberry.field(default=None, description="Amount off this line.")
    tax_rate: Decimal | None = strawberry.field(
        default=None, description="Tax percentage on this line, e.g. 21."
    )
    line_id: str | None = strawberry.field(
        default=None, description="Your own id for the line, where the source keeps one."
    )

    def to_domain(self) -> LineInput:
        return LineInput(
            description=self.description,
            quantity=self.quantity,
            unit_price=self.unit_price,
            discount=self.discount,
            tax_rate=self.tax_rate,
            line_id=self.line_id,
        )


@strawberry.input(description="A new invoice with its lines.")
class CreateInvoiceInput(MutationInput):
    lines: list[InvoiceLineInput] = strawberry.field(description="The lines, in order.")
    client_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The client to bill (TimeTap, Tight). Its source is where the invoice goes.",
    )
    source: Source | None = strawberry.field(
        default=None, description="Where to create it when there is no `clientId` (ClubCollect)."
    )
    tenant_id: str | None = strawberry.field(
        default=None, description="With `source`: the company or business to bill from."
    )
    recipient: RecipientInput | None = strawberry.field(
        default=None, description="Who it is addressed to (ClubCollect)."
    )
    currency: str | None = strawberry.field(default=None, description="ISO 4217 code.")
    issued_on: date | None = strawberry.field(default=None, description="Invoice date.")
    due_on: date | None = strawberry.field(default=None, description="Due date.")
    number: str | None = strawberry.field(default=None, description="Your invoice number.")
    note: str | None = strawberry.field(default=None, description="A note on the invoice.")
    total: Decimal | None = strawberry.field(
        default=None, description="ClubCollect: must equal the sum of the lines when given."
    )
    discount_amount: Decimal | None = strawberry.field(
        default=None, description="Tight: an amount off the invoice (not with a percent)."
    )
    discount_percent: Decimal | None = strawberry.field(
        default=None, description="Tight: a percentage off the invoice (not with an amount)."
    )
    accept_cash: bool | None = strawberry.field(default=None, description="Tight: cash or check.")
    accept_card: bool | None = strawberry.field(default=None, description="Tight: credit card.")
    accept_ach: bool | None = strawberry.field(default=None, description="Tight: ACH transfer.")
    custom_json: str | None = strawberry.field(
        default=None, description="Tight: your own JSON, at most 2,000 characters."
    )
    send: bool = strawberry.field(
        default=False, description="Tight: finalize and send the draft at once."
    )


@strawberry.input(description="Changes to an invoice; what is left out stays as it is.")
class UpdateInvoiceInput(MutationInput):
    invoice_id: strawberry.ID = strawberry.field(description="The invoice to change.")
    recipient: RecipientInput | None = strawberry.field(
        default=None, description="ClubCollect: the recipient's details."
    )
    number: str | None = strawberry.field(default=None, description="The invoice number.")
    due_on: date | None = strawberry.field(default=None, description="The due date.")
    note: str | None = strawberry.field(default=None, description="The note.")


@strawberry.input(description="An invoice to act on.")
class InvoiceActionInput(MutationInput):
    invoice_id: strawberry.ID = strawberry.field(description="The invoice.")


@strawberry.input(description="Send an invoice (Tight: finalize a draft and send it).")
class SendInvoiceInput(InvoiceActionInput):
    pass


@strawberry.input(description="Void an invoice (ClubCollect: credit and retract it).")
class VoidInvoiceInput(InvoiceActionInput):
    reason: str | None = strawberry.field(
        default=None, description="Why; ClubCollect requires it (its credit description)."
    )


@strawberry.input(description="Delete an invoice (ClubCollect: only before it is sent).")
class DeleteInvoiceInput(InvoiceActionInput):
    pass


@strawberry.input(description="Lines to add to an invoice.")
class AddInvoiceItemsInput(InvoiceActionInput):
    items: list[InvoiceLineInput] = strawberry.field(description="The new lines, in order.")


@strawberry.input(description="Changes to one line; what is left out stays as it is.")
class UpdateInvoiceItemInput(MutationInput):
    item_id: strawberry.ID = strawberry.field(description="The line to change.")
    description: str | None = strawberry.field(default=None, description="What it is for.")
    quantity: Decimal | None = strawberry.field(default=None, description="How many.")
    unit_price: Decimal | None = strawberry.field(default=None, description="Price of one.")
    discount: Decimal | None = strawberry.field(default=None, description="Amount off.")


@strawberry.input(description="A line to remove.")
class RemoveInvoiceItemInput(MutationInput):
    item_id: strawberry.ID = strawberry.field(description="The line to remove.")


@strawberry.input(description="Send the client a link to pay what is left on an invoice.")
class SendInvoiceBalanceLinkInput(InvoiceActionInput):
    channels: list[Channel] = strawberry.field(description="How to send it.")


@strawberry.input(description="A subscription to act on.")
class SubscriptionActionInput(MutationInput):
    subscription_id: strawberry.ID = strawberry.field(description="The subscription.")


@strawberry.input(description="Cancel a membership.")
class CancelSubscriptionInput(SubscriptionActionInput):
    on: date | None = strawberry.field(default=None, name="date", description="When it ends.")
    reason: str | None = strawberry.field(default=None, description="Why.")


@strawberry.input(description="Reactivate a cancelled membership.")
class ReactivateSubscriptionInput(SubscriptionActionInput):
    pass


@strawberry.input(description="Freeze a membership for a period.")
class FreezeSubscriptionInput(SubscriptionActionInput):
    from_: date = strawberry.field(name="from", description="First day of the freeze.")
    until: date = strawberry.field(description="Last day of the freeze.")
    reason: str | None = strawberry.field(default=None, description="Why.")


@strawberry.input(description="End a running freeze early.")
class StopSubscriptionFreezeInput(SubscriptionActionInput):
    freeze_id: str | None = strawberry.field(
        default=None, description="Which freeze (default: the one running now)."
    )


@strawberry.input(description="Cancel a freeze that has not started.")
class CancelSubscriptionFreezeInput(SubscriptionActionInput):
    freeze_id: str | None = strawberry.field(
        default=None, description="Which freeze (default: the next one scheduled)."
    )
    from_: date | None = strawberry.field(
        default=None, name="from", description="Or: the freeze that starts on this day."
    )


@strawberry.input(description="Move the date a membership starts or ends.")
class ChangeSubscriptionDateInput(SubscriptionActionInput):
    on: date = strawberry.field(name="date", description="The new date.")


@strawberry.input(description="Void a membership.")
class VoidSubscriptionInput(SubscriptionActionInput):
    reason: str | None = strawberry.field(default=None, description="Why.")


# --- payloads ----------------------------------------------------------------------------


@strawberry.type(description="What every mutation payload carries.")
class MutationPayload:
    client_mutation_id: str | None = strawberry.field(description=_CLIENT_MUTATION_ID)
    user_errors: list[MutationError] = strawberry.field(
        description="Why the write was refused; empty when it succeeded."
    )


@strawberry.type(description="An invoice after a write.")
class InvoicePayload(MutationPayload):
    invoice: Invoice | None = strawberry.field(
        description="The invoice as it is now (null when nothing was written)."
    )


@strawberry.type(description="The created invoice, with its lines.")
class CreateInvoicePayload(InvoicePayload):
    pass


@strawberry.type(description="The changed invoice.")
class UpdateInvoicePayload(InvoicePayload):
    pass


@strawberry.type(description="The sent invoice.")
class SendInvoicePayload(InvoicePayload):
    pass


@strawberry.type(description="The voided invoice.")
class VoidInvoicePayload(InvoicePayload):
    pass


@strawberry.type(description="The invoice with its new lines.")
class AddInvoiceItemsPayload(InvoicePayload):
    pass


@strawberry.type(description="The deleted invoice's ID.")
class DeleteInvoicePayload(MutationPayload):
    deleted_invoice_id: strawberry.ID | None = strawberry.field(
        description="The ID of the invoice deleted (null when nothing was deleted)."
    )


@strawberry.type(description="The changed line and its invoice.")
class UpdateInvoiceItemPayload(InvoicePayload):
    item: InvoiceItem | None = strawberry.field(description="The line as it is now.")


@strawberry.type(description="The removed line's ID and its invoice.")
class RemoveInvoiceItemPayload(InvoicePayload):
    removed_item_id: strawberry.ID | None = strawberry.field(
        description="The ID of the line removed (null when nothing was removed)."
    )


@strawberry.type(description="Whether a balance link went out on one channel.")
class BalanceLinkDelivery:
    channel: Channel = strawberry.field(description="The channel.")
    success: bool = strawberry.field(description="True when it went out.")
    error: MutationError | None = strawberry.field(description="Why it did not.")


@strawberry.type(description="The balance link's deliveries.")
class SendInvoiceBalanceLinkPayload(InvoicePayload):
    deliveries: list[BalanceLinkDelivery] = strawberry.field(
        description="One entry per channel asked for."
    )


@strawberry.type(description="A subscription after a write.")
class SubscriptionPayload(MutationPayload):
    subscription: Subscription | None = strawberry.field(
        description="The subscription as it is now (null when nothing was written)."
    )


# --- resolving ------------------------------------------------------------------------------

# Command field names that differ from the input's.
_NAMES = {
    "extra": "",
    "freeze_id": "freezeId",
    "client": "clientId",
    "tenant": "tenantId",
    "key": "invoiceId",
    "reason": "reason",
    "on": "date",
    "from_date": "from",
    "until_date": "until",
    "accept_card": "acceptCard",
}


def _fields(outcome: Outcome, names: dict[str, str] | None = None) -> list[MutationError]:
    table = {**_NAMES, **(names or {})}
    return [to_graphql(e, table) for e in outcome.errors]


def _invoice(outcome: Outcome) -> Invoice | None:
    if outcome.invoice is None:
        return None
    record = outcome.result.invoice if outcome.result is not None else None
    return Invoice(key=outcome.invoice, record=record)


def _plain(value: Any) -> Any:
    """Input objects as plain data, for the idempotency fingerprint."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal | date):
        return str(value)
    if hasattr(value, "value"):
        return value.value
    return value


def _request(input: Any) -> Any:
    data = _plain(input)
    data.pop("idempotency_key", None)
    data.pop("client_mutation_id", None)
    return data


async def _invoice_write(
    info: Ctx,
    input: InvoiceActionInput,
    capability: Capability,
    operation: str,
    call: Any,
) -> Outcome:
    key = target(info, input.invoice_id, EntityType.INVOICE, "key")
    if isinstance(key, Outcome):
        return key
    return await run_write(
        info,
        operation=operation,
        source=key.source,
        capability=capability,
        idempotency_key=input.idempotency_key,
        request=_request(input),
        write=lambda c: call(c, key),
    )


def _lines(items: Sequence[InvoiceLineInput]) -> tuple[LineInput, ...]:
    return tuple(line.to_domain() for line in items)


async def _subscription_write(
    info: Ctx, input: SubscriptionActionInput, op: SubscriptionOp, **values: Any
) -> SubscriptionPayload:
    key = target(info, input.subscription_id, EntityType.SUBSCRIPTION, "key")
    if isinstance(key, Outcome):
        outcome = key
    else:
        command = SubscriptionCommand(key=key, op=op, **values)
        outcome = await run_write(
            info,
            operation=f"subscription:{op.value}",
            source=key.source,
            capability=SUBSCRIPTION_CAPABILITY[op],
            idempotency_key=input.idempotency_key,
            request=_request(input),
            write=lambda c: c.change_subscription(command),
        )
    subscription = None
    if outcome.subscription is not None:
        record = outcome.result.subscription if outcome.result is not None else None
        subscription = Subscription(key=outcome.subscription, record=record)
    return SubscriptionPayload(
        client_mutation_id=input.client_mutation_id,
        user_errors=_fields(outcome, {"key": "subscriptionId"}),
        subscription=subscription,
    )


def _freeze(freeze_id: str | None) -> dict[str, Any]:
    return {} if freeze_id is None else {"freeze_id": freeze_id}


def _item_key(outcome: Outcome) -> strawberry.ID | None:
    return None if outcome.removed is None else strawberry.ID(ids.encode(outcome.removed))


@strawberry.type(description="Change invoices, lines and subscriptions in any source.")
class Mutation:
    @strawberry.mutation(
        description="Create an invoice with its lines (TimeTap, ClubCollect, Tight)."
    )
    async def create_invoice(
        self, info: Ctx, input: Annotated[CreateInvoiceInput, _INPUT]
    ) -> CreateInvoicePayload:
        outcome = await _create_invoice(info, input)
        return CreateInvoicePayload(
            client_mutation_id=input.client_mutation_id,
            user_errors=_fields(outcome),
            invoice=_invoice(outcome),
        )

    @strawberry.mutation(description="Change an invoice (ClubCollect: its recipient only).")
    async def update_invoice(
        self, info: Ctx, input: Annotated[UpdateInvoiceInput, _INPUT]
    ) -> UpdateInvoicePayload:
        key = target(info, input.invoice_id, EntityType.INVOICE, "key")
        if isinstance(key, Outcome):
            outcome = key
        else:
            command = UpdateInvoice(
                key=key,
                recipient=input.recipient.to_domain() if input.recipient else None,
                number=input.number,
                due_on=input.due_on,
                note=input.note,
            )
            outcome = await run_write(
                info,
                operation="update_invoice",
                source=key.source,
                capability=Capability.UPDATE_INVOICE,
                idempotency_key=input.idempotency_key,
                request=_request(input),
                write=lambda c: c.update_invoice(command),
            )
        return UpdateInvoicePayload(
            client_mutation_id=input.client_mutation_id,
            user_errors=_fields(outcome),
            invoice=_invoice(outcome),
        )

    @strawberry.mutation(
        description="Send an invoice (Tight: finalize a draft; FitnessForce: PDF)."
    )
    async def send_invoice(
        self, info: Ctx, input: Annotated[SendInvoiceInput, _INPUT]
    ) -> SendInvoicePayload:
        outcome = await _invoice_write(
            info, input, Capability.SEND_INVOICE, "send_invoice", lambda c, k: c.send_invoice(k)
        )
        return SendInvoicePayload(
            client_mutation_id=input.client_mutation_id,
            user_errors=_fields(outcome),
            invoice=_invoice(outcome),
        )

    @strawberry.mutation(description="Void an invoice (ClubCollect: credit and retract it).")
    async def void_invoice(
        self, info: Ctx, input: Annotated[VoidInvoiceInput, _INPUT]
    ) -> VoidInvoicePayload:
        outcome = await _invoice_write(
            info,
            input,
            Capability.VOID_INVOICE,
            "void_invoice",
            lambda c, k: c.void_invoice(k, input.reason),
        )
        return VoidInvoicePayload(
            client_mutation_id=input.client_mutation_id,
            user_errors=_fields(outcome),
            invoice=_invoice(outcome),
        )

    @strawberry.mutation(description="Delete an invoice (TimeTap; ClubCollect before it is sent).")
    async def delete_invoice(
        self, info: Ctx, input: Annotated[DeleteInvoiceInput, _INPUT]
    ) -> DeleteInvoicePayload:
        outcome = await _invoice_write(
            info,
            input,
            Capability.DELETE_INVOICE,
            "delete_invoice",
            lambda c, k: c.delete_invoice(k),
        )
        return DeleteInvoicePayload(
            client_mutation_id=input.client_mutation_id,
            user_errors=_fields(outcome),
            deleted_invoice_id=_item_key(outcome),
        )

    @strawberry.mutation(description="Add lines to an invoice (TimeTap).")
    async def add_invoice_items(
        self, info: Ctx, input: Annotated[AddInvoiceItemsInput, _INPUT]
    ) -> AddInvoiceItemsPayload:
        lines = _lines(input.items)
        outcome = await _invoice_write(
            info,
            input,
            Capability.ADD_INVOICE_ITEMS,
            "add_invoice_items",
            lambda c, k: c.add_invoice_items(k, lines),
        )
        return AddInvoiceItemsPayload(
            client_mutation_id=input.client_mutation_id,
            user_errors=_fields(outcome, {"lines": "items"}),
            invoice=_invoice(outcome),
        )

    @strawberry.mutation(description="Change one invoice line (TimeTap).")
    async def update_invoice_item(
        self, info: Ctx, input: Annotated[UpdateInvoiceItemInput, _INPUT]
    ) -> UpdateInvoiceItemPayload:
        key = target(info, input.item_id, EntityType.INVOICE_ITEM, "key")
        if isinstance(key, Outcome):
            outcome = key
        else:
            change = LineChange(
                description=input.description,
                quantity=input.quantity,
                unit_price=input.unit_price,
                discount=input.discount,
            )
            outcome = await run_write(
                info,
                operation="update_invoice_item",
                source=key.source,
                capability=Capability.UPDATE_INVOICE_ITEM,
                idempotency_key=input.idempotency_key,
                request=_request(input),
                write=lambda c: c.update_invoice_item(key, change),
            )
        item = None
        if outcome.item is not None:
            record = outcome.result.item if outcome.result is not None else None
            item = InvoiceItem(key=outcome.item, record=record)
        return UpdateInvoiceItemPayload(
            client_mutation_id=input.client_mutation_id,
            user_errors=_fields(outcome, {"key": "itemId"}),
            invoice=_invoice(outcome),
            item=item,
        )

    @strawberry.mutation(description="Remove one invoice line (TimeTap).")
    async def remove_invoice_item(
        self, info: Ctx, input: Annotated[RemoveInvoiceItemInput, _INPUT]
    ) -> RemoveInvoiceItemPayload:
        key = target(info, input.item_id, EntityType.INVOICE_ITEM, "key")
        if isinstance(key, Outcome):
            outcome = key
        else:
            outcome = await run_write(
                info,
                operation="remove_invoice_item",
                source=key.source,
                capability=Capability.REMOVE_INVOICE_ITEM,
                idempotency_key=input.idempotency_key,
                request=_request(input),
                write=lambda c: c.remove_invoice_item(key),
            )
        return RemoveInvoiceItemPayload(
            client_mutation_id=input.client_mutation_id,
            user_errors=_fields(outcome, {"key": "itemId"}),
            invoice=_invoice(outcome),
            removed_item_id=_item_key(outcome),
        )

    @strawberry.mutation(
        description="Send the client a link to pay what is left (FitnessForce), per channel."
    )
    async def send_invoice_balance_link(
        self, info: Ctx, input: Annotated[SendInvoiceBalanceLinkInput, _INPUT]
    ) -> SendInvoiceBalanceLinkPayload:
        channels = tuple(input.channels)
        outcome = await _invoice_write(
            info,
            input,
            Capability.SEND_INVOICE_BALANCE_LINK,
            "send_invoice_balance_link",
            lambda c, k: c.send_invoice_balance_link(k, channels),
        )
        deliveries = []
        for entry in outcome.channels:
            error = None
            if entry["error"] is not None:
                path, code, message, source_code = entry["error"]
                error = MutationError(
                    field=path or None,
                    code=ErrorCode(code),
                    message=message,
                    source_code=source_code,
                )
            deliveries.append(
                BalanceLinkDelivery(
                    channel=Channel(entry["channel"]), success=entry["success"], error=error
                )
            )
        return SendInvoiceBalanceLinkPayload(
            client_mutation_id=input.client_mutation_id,
            user_errors=_fields(outcome),
            invoice=_invoice(outcome),
            deliveries=deliveries,
        )

    @strawberry.mutation(description="Cancel a membership (FitnessForce).")
    async def cancel_subscription(
        self, info: Ctx, input: Annotated[CancelSubscriptionInput, _INPUT]
    ) -> SubscriptionPayload:
        return await _subscription_write(
            info, input, SubscriptionOp.CANCEL, on=input.on, reason=input.reason
        )

    @strawberry.mutation(description="Reactivate a cancelled membership (FitnessForce).")
    async def reactivate_subscription(
        self, info: Ctx, input: Annotated[ReactivateSubscriptionInput, _INPUT]
    ) -> SubscriptionPayload:
        return await _subscription_write(info, input, SubscriptionOp.REACTIVATE)

    @strawberry.mutation(description="Freeze a membership for a period (FitnessForce).")
    async def freeze_subscription(
        self, info: Ctx, input: Annotated[FreezeSubscriptionInput, _INPUT]
    ) -> SubscriptionPayload:
        return await _subscription_write(
            info,
            input,
            SubscriptionOp.FREEZE,
            from_date=input.from_,
            until_date=input.until,
            reason=input.reason,
        )

    @strawberry.mutation(description="End a running freeze early (FitnessForce).")
    async def stop_subscription_freeze(
        self, info: Ctx, input: Annotated[StopSubscriptionFreezeInput, _INPUT]
    ) -> SubscriptionPayload:
        return await _subscription_write(
            info, input, SubscriptionOp.STOP_FREEZE, extra=_freeze(input.freeze_id)
        )

    @strawberry.mutation(description="Cancel a freeze that has not started (FitnessForce).")
    async def cancel_subscription_freeze(
        self, info: Ctx, input: Annotated[CancelSubscriptionFreezeInput, _INPUT]
    ) -> SubscriptionPayload:
        return await _subscription_write(
            info,
            input,
            SubscriptionOp.CANCEL_FREEZE,
            from_date=input.from_,
            extra=_freeze(input.freeze_id),
        )

    @strawberry.mutation(description="Move the day a membership starts (FitnessForce).")
    async def change_subscription_start_date(
        self, info: Ctx, input: Annotated[ChangeSubscriptionDateInput, _INPUT]
    ) -> SubscriptionPayload:
        return await _subscription_write(info, input, SubscriptionOp.CHANGE_START, on=input.on)

    @strawberry.mutation(description="Move the day a membership ends (FitnessForce).")
    async def change_subscription_end_date(
        self, info: Ctx, input: Annotated[ChangeSubscriptionDateInput, _INPUT]
    ) -> SubscriptionPayload:
        return await _subscription_write(info, input, SubscriptionOp.CHANGE_END, on=input.on)

    @strawberry.mutation(description="Void a membership (FitnessForce).")
    async def void_subscription(
        self, info: Ctx, input: Annotated[VoidSubscriptionInput, _INPUT]
    ) -> SubscriptionPayload:
        return await _subscription_write(info, input, SubscriptionOp.VOID, reason=input.reason)


async def _create_invoice(info: Ctx, input: CreateInvoiceInput) -> Outcome:
    client: Key | None = None
    if input.client_id is not None:
        found = target(info, input.client_id, EntityType.CLIENT, "client")
        if isinstance(found, Outcome):
            return found
        client = found
    source = client.source if client is not None else input.source
    if source is None:
        return refused(
            ErrorCode.REQUIRED, "Give `clientId`, or `source` to create it without one.", "client"
        )
    if client is not None and input.source is not None and input.source is not client.source:
        return refused(ErrorCode.INVALID, "`source` differs from the client's source.", "source")
    tenant = input.tenant_id if input.tenant_id is not None else (client.tenant if client else None)
    principal = info.context.principal
    if not principal.is_member and not may_write_to(principal, source, tenant):
        if tenant is None:
            return refused(ErrorCode.REQUIRED, "Give the `tenantId` to create it in.", "tenant")
        return refused(ErrorCode.NOT_FOUND, "No tenant with this ID.", "tenant")
    command = CreateInvoice(
        lines=_lines(input.lines),
        client=client,
        tenant=tenant,
        recipient=input.recipient.to_domain() if input.recipient else None,
        currency=input.currency,
        issued_on=input.issued_on,
        due_on=input.due_on,
        number=input.number,
        note=input.note,
        total=input.total,
        discount_amount=input.discount_amount,
        discount_percent=input.discount_percent,
        accept_cash=input.accept_cash,
        accept_card=input.accept_card,
        accept_ach=input.accept_ach,
        custom_json=input.custom_json,
        send=input.send,
    )
    return await run_write(
        info,
        operation="create_invoice",
        source=source,
        capability=Capability.CREATE_INVOICE,
        idempotency_key=input.idempotency_key,
        request=_request(input),
        write=lambda c: c.create_invoice(command),
        recover=lambda c, marker: c.find_created_invoice(command, marker),
    )
