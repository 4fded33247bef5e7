"""What every ``POST /__sandbox/simulate/payment`` shares: its path, its body, its amounts.

Sandbox only, on every source: a member pays at the front desk (or on the platform's
own payment page), which no partner API call can do. The endpoint changes the same
state the API's reads serve, so that tests and developers can watch a payment reach
clubgraph through a webhook (FitnessForce, ClubCollect) or the next poll (TimeTap,
Tight). Each source answers in its own error shape: 404 for an unknown id, 409 for an
invoice that cannot take a payment, 422 for a bad body or amount.
"""

from __future__ import annotations

import json
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from .core import SIMULATE_PREFIX

SIMULATE_PAYMENT = SIMULATE_PREFIX + "payment"


class BadInput(ValueError):
    """A simulate body or field that cannot be used; ``str()`` says why."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


async def read_object(request: web.Request) -> dict[str, Any]:
    """The JSON object body, fractions as the exact ``Decimal`` of the text sent."""
    try:
        body = json.loads(await request.text(), parse_float=Decimal)
    except ValueError:
        raise BadInput("the body is not JSON") from None
    if not isinstance(body, dict):
        raise BadInput("the body must be a JSON object")
    return body


def identifier(body: dict[str, Any], name: str) -> int:
    """A required integer id field (a numeric string is taken too)."""
    value = body.get(name)
    if value is None:
        raise BadInput(f"{name} is required", name)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(f"{name} must be an integer", name)
    return value


def major_amount(body: dict[str, Any], name: str = "amount") -> int | None:
    """An optional positive amount in major units (a JSON number or a decimal string)
    with at most two decimals, as cents; None when absent."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise BadInput(f"{name} must be a decimal number or string", name)
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise BadInput(f"{name} is not a decimal number: {value!r}", name) from None
    if not amount.is_finite():
        raise BadInput(f"{name} must be a finite number", name)
    try:
        whole = amount.quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    except InvalidOperation:
        raise BadInput(f"{name} is out of range", name) from None
    if amount != whole:
        raise BadInput(f"{name} has more than two decimals", name)
    if amount <= 0:
        raise BadInput(f"{name} must be above zero", name)
    return int(amount * 100)


def cents_amount(body: dict[str, Any], name: str = "amount_cents") -> int | None:
    """An optional positive whole number of cents; None when absent."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(f"{name} must be a whole number of cents", name)
    if value <= 0:
        raise BadInput(f"{name} must be above zero", name)
    return value


def within(cents: int | None, open_cents: int, name: str) -> int:
    """The amount to pay: ``cents``, or all that is open; refused above the open amount."""
    if cents is None:
        return open_cents
    if cents > open_cents:
        raise BadInput(f"{name} is more than the {open_cents / 100:.2f} still open", name)
    return cents
