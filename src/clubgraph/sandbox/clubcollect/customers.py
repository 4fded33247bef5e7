"""Club members as ClubCollect customers: names with Dutch infixes, varied contact data."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import people

_INFIXES = ("van den ", "van der ", "van ", "de ", "den ")


@dataclass(slots=True)
class Customer:
    """One person as the customer of one company."""

    company: str
    person: people.Person
    membership: str | None
    customer: dict[str, Any]
    plan: int
    iban: str | None


def _split_name(last: str) -> tuple[str | None, str]:
    for infix in _INFIXES:
        if last.startswith(infix):
            return infix.strip(), last[len(infix) :]
    return None, last


def _customer_json(p: people.Person, style: str) -> dict[str, Any]:
    infix, last = _split_name(p.last_name)
    address = {
        "address1": p.street,
        "address2": "",
        "locality": "",
        "house_number": p.house_number,
        "state": "",
        "zipcode": p.zip_code,
        "city": p.city,
        "country_code": p.country_code,
    }
    return {
        "name": {
            "prefix": None,
            "first_name": p.first_name,
            "infix": infix,
            "last_name": last,
            "organization": None,
        },
        "address": address if style in ("full", "phone", "postal") else None,
        "email": {"email_address": p.email} if style in ("full", "email") else None,
        "phone": {"phone_number": p.phone, "country_code": p.country_code}
        if style in ("full", "phone")
        else None,
    }


def customers(
    rnd: random.Random, seed: int, clubs: Mapping[str, tuple[str, Sequence[int]]]
) -> list[Customer]:
    """Each person of the ClubCollect slice as a customer of one club, a few of both."""
    out: list[Customer] = []
    counters = dict.fromkeys(clubs, 0)
    for i, p in enumerate(people.people_for("clubcollect", seed)):
        # The first people (in every source) and a few others belong to both clubs.
        both = i < 5 or rnd.random() < 0.08
        companies = list(clubs) if both else [rnd.choice(list(clubs))]
        for company in companies:
            prefix, plans = clubs[company]
            counters[company] += 1
            has_number = rnd.random() < 0.75
            style = rnd.choices(("full", "phone", "postal", "email"), (80, 9, 5, 6))[0]
            out.append(
                Customer(
                    company=company,
                    person=p,
                    membership=f"{prefix}-{counters[company]:05d}" if has_number else None,
                    customer=_customer_json(p, style),
                    plan=rnd.choice(plans),
                    iban=f"NL{rnd.randrange(10, 99)}INGB{rnd.randrange(10**9, 10**10)}"
                    if p.country_code == "NL" and rnd.random() < 0.6
                    else None,
                )
            )
    return out
