"""Seeded ClubCollect data: two companies, monthly imports, invoices with their lines.

Everything is stored as the API's own JSON objects in a mutable ``State``, so that
writes change what later reads show.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .. import people
from .customers import Customer, customers
from .ledger import iso, line, recompute
from .settlement import pick_status, settle

COMPANIES: tuple[dict[str, Any], ...] = (
    {
        "company_id": "cmp_amsterdam_hc",
        "name": "Amsterdamsche Hockey Club",
        "brand": "knhb",
        "email": "penningmeester@amsterdam-hc.example.nl",
        "locale": "nl",
        "address1": "Nieuwe Kalfjeslaan",
        "address2": "",
        "house_number": "21",
        "zipcode": "1182 AA",
        "city": "Amstelveen",
        "country_code": "NL",
        "currency": "EUR",
    },
    {
        "company_id": "cmp_utrecht_rc",
        "name": "Utrechtse Roeiclub Viking",
        "brand": "clubcollect",
        "email": "ledenadministratie@utrecht-rc.example.nl",
        "locale": "nl",
        "address1": "Weerdsingel O.Z.",
        "address2": "Botenhuis",
        "house_number": "43",
        "zipcode": "3513 AD",
        "city": "Utrecht",
        "country_code": "NL",
        "currency": "EUR",
    },
)
# company -> (membership-number prefix, import title, due days, fee plans in cents)
_CLUB = {
    "cmp_amsterdam_hc": ("AHC", "Contributie", 14, (4250, 3710, 2875, 1995, 5125)),
    "cmp_utrecht_rc": ("URC", "Lidmaatschap", 30, (3900, 2450, 6010, 1830)),
}
_EXTRAS = (
    ("Bardienst afkoop", 2500),
    ("Kledingpakket", 4995),
    ("Competitiebijdrage", 1210),
    ("Administratiekosten", 30),
    ("Afronding", 10),
    ("Botenfonds", 20),
)
_MONTHS = 22  # 2025-01 .. 2026-10


@dataclass(slots=True)
class State:
    """The sandbox's data: companies, imports and invoices by id."""

    companies: dict[str, dict[str, Any]] = field(default_factory=dict)
    imports: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    line_ids: set[str] = field(default_factory=set)
    # Ids changed since the partner was last notified (insertion-ordered sets).
    changed_invoices: dict[str, None] = field(default_factory=dict)
    changed_imports: dict[str, None] = field(default_factory=dict)
    # How many times each id has changed: a notification answered 200 forgets an id
    # only if it has not changed again since the notification was made.
    versions: dict[str, int] = field(default_factory=dict)
    # Told of the invoice ids of every change (the real-time notifications).
    on_invoices_changed: Callable[[list[str]], None] | None = None

    def changed(self, invoice_ids: Iterable[str] = (), import_ids: Iterable[str] = ()) -> None:
        """Note ids that the next notification round names."""
        invoices = list(invoice_ids)
        imports = list(import_ids)
        self.changed_invoices.update(dict.fromkeys(invoices))
        self.changed_imports.update(dict.fromkeys(imports))
        for ident in (*invoices, *imports):
            self.versions[ident] = self.versions.get(ident, 0) + 1
        if invoices and self.on_invoices_changed is not None:
            self.on_invoices_changed(invoices)

    def notified(
        self, invoice_ids: Iterable[str], import_ids: Iterable[str], seen: dict[str, int]
    ) -> None:
        """Forget ids a notification named and the partner confirmed, unless they have
        changed since (``seen``: their versions when it was made)."""
        for ident in invoice_ids:
            if self.versions.get(ident, 0) == seen.get(ident, 0):
                self.changed_invoices.pop(ident, None)
        for ident in import_ids:
            if self.versions.get(ident, 0) == seen.get(ident, 0):
                self.changed_imports.pop(ident, None)

    def company_imports(self, company_id: str) -> list[dict[str, Any]]:
        """A company's imports, oldest first."""
        return [i for i in self.imports.values() if i["company_id"] == company_id]


def _hex(rnd: random.Random) -> str:
    return f"{rnd.getrandbits(160):040x}"


def _month_start(m: int) -> datetime:
    year, month = divmod(m, 12)
    return people.SEED_START.replace(year=people.SEED_START.year + year, month=month + 1)


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(f"clubcollect:{seed}")
        self.state = State()
        self.invoice_seq = 100000

    def line_id(self) -> str:
        lid = _hex(self.rnd)[:24]
        self.state.line_ids.add(lid)
        return lid

    def build(self, seed: int) -> State:
        rnd = self.rnd
        for c in COMPANIES:
            self.state.companies[c["company_id"]] = dict(c)
        members_all = customers(rnd, seed, {c: (v[0], v[3]) for c, v in _CLUB.items()})
        joined = {id(c): rnd.randrange(0, _MONTHS - 6) for c in members_all}
        for company in _CLUB:
            prefix, title, due_days, _ = _CLUB[company]
            members = [c for c in members_all if c.company == company]
            for m in range(_MONTHS):
                start = _month_start(m)
                # An import opens with the month; the club adds invoices to it one by one
                # and transmits it when the month is over. The current month's import is
                # still open, so its invoices run up to the seed's "now".
                created = start + timedelta(hours=rnd.randrange(8, 17))
                transmitted = m < _MONTHS - 1
                sent = (
                    _month_start(m + 1) + timedelta(days=rnd.randrange(0, 3), hours=9)
                    if transmitted
                    else None
                )
                window = (min(_month_start(m + 1), people.SEED_NOW) - created).total_seconds()
                imp: dict[str, Any] = {
                    "import_id": _hex(rnd),
                    "company_id": company,
                    "title": f"{title} {start:%Y/%m}",
                    "transmitted": transmitted,
                    "transmitted_at": iso(sent) if sent else None,
                    "prepaid_amount_cents": 0,
                    "prepaid_amount_currency": "EUR",
                    "settled_amount_cents": 0,
                    "settled_amount_currency": "EUR",
                    "expected_invoices_count": 0,
                    "invoice_ids": [],
                }
                self.state.imports[imp["import_id"]] = imp
                for n, cust in enumerate(members):
                    if m < joined[id(cust)] or (m > joined[id(cust)] and rnd.random() > 0.5):
                        continue
                    added = created + timedelta(seconds=rnd.randrange(int(window) - 3600))
                    inv = self.invoice(cust, imp, added, sent, due_days, m, n, prefix)
                    imp["invoice_ids"].append(inv["invoice_id"])
                    self.state.invoices[inv["invoice_id"]] = inv
                settled = sum(
                    self.state.invoices[i]["amount_paid_cents"] for i in imp["invoice_ids"]
                )
                imp["settled_amount_cents"] = max(settled, 0)
        return self.state

    def invoice(
        self,
        cust: Customer,
        imp: dict[str, Any],
        created: datetime,
        sent: datetime | None,
        due_days: int,
        month: int,
        n: int,
        prefix: str,
    ) -> dict[str, Any]:
        rnd = self.rnd
        period = f"{created:%Y/%m}"
        lines = [line(self.line_id(), "INVOICE-LINE", cust.plan, created, f"Contributie {period}")]
        roll = rnd.random()
        if roll < 0.02:
            lines.append(
                line(self.line_id(), "CREDIT-LINE", -cust.plan, created, "Vrijstelling contributie")
            )
        elif roll < 0.04:
            lines[0] = line(
                self.line_id(), "INVOICE-LINE", -cust.plan, created, "Restitutie contributie"
            )
        else:
            if rnd.random() < 0.35:
                desc, amount = rnd.choice(_EXTRAS)
                lines.append(line(self.line_id(), "INVOICE-LINE", amount, created, desc))
            if rnd.random() < 0.1:
                lines.append(
                    line(
                        self.line_id(), "INVOICE-LINE", 500, created, "Donatie", subtype="donation"
                    )
                )
            if rnd.random() < 0.2:
                desc, amount = rnd.choice(
                    (("Gezinskorting", -(cust.plan // 10)), ("Vrijwilligerskorting", -1500))
                )
                lines.append(line(self.line_id(), "CREDIT-LINE", amount, created, desc))
            if rnd.random() < 0.1:
                lines.append(
                    line(
                        self.line_id(),
                        "INVOICE-LINE",
                        35,
                        created,
                        "Transactiekosten",
                        subtype="surcharge",
                    )
                )
        total = sum(ln["amount_cents"] for ln in lines)
        age = _MONTHS - 1 - month
        status = pick_status(rnd, age, total) if sent is not None else "draft"
        inv: dict[str, Any] = {
            "invoice_id": _hex(rnd),
            "import_id": imp["import_id"],
            "external_invoice_number": f"{prefix}-{created:%Y%m}-{n + 1:04d}",
            "reference": _hex(rnd)[:7],
            "invoice_number": str(self.invoice_seq),
            "direct_debit_iban": cust.iban,
            "federation_membership_number": f"KN{cust.person.index:05d}"
            if prefix == "AHC" and cust.membership
            else None,
            "club_membership_number": cust.membership,
            "member_external_id": f"mem-{cust.person.index}",
            "external_membership_number": None,
            "locale": "nl" if cust.person.country_code == "NL" else "en",
            "customer": _copy(cust.customer),
            "invoice_lines": lines,
            "amount_total_cents": total,
            "messages": [],
            "tickets": [],
            "retracted_at": None,
            "retraction_reason": None,
            "show_retraction_reason_to_customer": False,
            # inferred fields
            "status": status,
            "created_at": iso(created),
            "transmitted_at": iso(sent) if sent else None,
            "due_date": (created + timedelta(days=due_days)).date().isoformat(),
        }
        self.invoice_seq += 1
        if sent is not None:
            settle(rnd, self.line_id, inv, cust.iban, sent, total)
        recompute(inv)
        return inv


def _copy(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: dict(v) if isinstance(v, dict) else v for k, v in obj.items()}


def build_state(seed: int = 7) -> State:
    """The seeded data, identical for identical seeds."""
    return _Builder(seed).build(seed)
