"""The benchmark tenant (``clubgraph sandbox --bench``): ten clients with ten invoices
each, the shape of the public graphql-benchmarks N+1 query (workload W0).

It is kept out of the default data so that the seeded world the tests describe stays
as it is; the benchmark adds it to measure the N+1 shape on its own.
"""

from __future__ import annotations

import random

from .. import people
from .billing import adhoc_invoice
from .data import _client
from .state import JSON, FitnessForceState

BENCH_TENANT_ID = 103
_TENANT: JSON = {
    "tenant_id": BENCH_TENANT_ID,
    "tenant_name": "FitForce Benchmark Club",
    "company_id": 11,
    "company_name": "FitForce Benelux B.V.",
    "currency_code": "EUR",
    "time_zone": "Europe/Amsterdam",
    "country_code": "NL",
    "invoice_prefix": "BEN",
    "is_active": True,
    "tax_groups": [
        {"tax_group_id": 1, "tax_group_name": "BTW 21%", "tax_percentage": 21.0},
        {"tax_group_id": 2, "tax_group_name": "BTW 9%", "tax_percentage": 9.0},
    ],
}
CLIENTS = 10
INVOICES_PER_CLIENT = 10


def add_bench_tenant(state: FitnessForceState, seed: int = 7) -> None:
    """Add tenant 103 with its clients and invoices (ids clear of the seeded ones)."""
    rnd = random.Random(f"fitnessforce-bench:{seed}")
    state.tenants[BENCH_TENANT_ID] = dict(_TENANT)
    drafts: list[JSON] = []
    for i in range(CLIENTS):
        person = people.Person(
            index=1000 + i,
            first_name=f"Bench{i + 1:02d}",
            last_name="Member",
            email=f"bench.member{i + 1:02d}@example.com",
            phone=f"+31 6 {10_000_000 + i}",
            street="Benchmarkweg",
            house_number=str(i + 1),
            zip_code="1000 AA",
            city="Amsterdam",
            country_code="NL",
            birth_date="1990-01-01",
        )
        client = _client(rnd, 19001 + i, person, _TENANT)
        client["email"] = person.email  # every benchmark client has its contact details
        client["mobile_number"] = person.phone
        state.clients[client["client_id"]] = client
        drafts += [adhoc_invoice(rnd, state, client, _TENANT) for _ in range(INVOICES_PER_CLIENT)]
    drafts.sort(key=lambda inv: (inv["invoice_date"], inv["client_id"]))
    line_id = 9_900_000
    for n, inv in enumerate(drafts, start=1):
        inv["invoice_id"] = 7_900_000 + n
        inv["invoice_number"] = f"BEN-{n:06d}"
        for line in inv["invoice_details"]:
            line_id += 1
            line["invoice_detail_id"] = line_id
        state.invoices[inv["invoice_id"]] = inv
