"""Request validation shared by the sandbox's write endpoints."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from .model import JSON
from .problems import Problem, TimeTapProblem, bad_request
from .reads import BUSINESS


async def read_body(request: web.Request) -> Any:
    # Amounts are decoded as Decimal so that validation sees the literal sent.
    """The JSON body, fractions decoded as Decimal."""
    try:
        return json.loads(await request.text(), parse_float=Decimal)
    except ValueError:
        raise bad_request("INVALID_JSON", "Request body is not valid JSON") from None


def parse_amount(value: Any, field: str, problems: list[Problem]) -> Decimal | None:
    """An amount field as Decimal, noting a problem when it is not money."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        problems.append(Problem("INVALID_AMOUNT", f"{field} must be a number", field))
        return None
    amount = Decimal(value)
    try:
        if amount != amount.quantize(Decimal("0.01")):
            problems.append(Problem("INVALID_AMOUNT", f"{field} has more than 2 decimals", field))
    except InvalidOperation:
        problems.append(Problem("INVALID_AMOUNT", f"{field} is out of range", field))
    return amount


def check_business(body: JSON, request: web.Request, problems: list[Problem]) -> None:
    """Refuse a body aimed at another business than the session's."""
    if body.get("businessId") is None:
        problems.append(Problem("REQUIRED_FIELD_MISSING", "businessId is required", "businessId"))
    elif body["businessId"] != request[BUSINESS]:
        raise TimeTapProblem(
            403, Problem("BUSINESS_ACCESS_DENIED", "businessId is not this session's business")
        )


def raise_problems(problems: list[Problem]) -> None:
    """Answer 400 with every problem found."""
    if problems:
        raise TimeTapProblem(400, *problems)
