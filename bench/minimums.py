"""What each workload must cost at least: upstream requests, and dependent round trips.

Upstream requests per query (counted at the sandbox servers, steady state: tokens,
tenant lists and clubgraph's ClubCollect index are first-call costs that the warm-up
pays) are compared with a minimum derived from the source's endpoints, computed from
the response of the measured run where it depends on the data. The critical-path
floor is the number of upstream round trips that must happen one after another,
times the injected latency: no server can answer faster than that.

The sandbox's endpoints that decide these figures (src/clubgraph/sandbox/*/app.py):
- FitnessForce: invoice lists per tenant (``page_size`` up to 200) with lines embedded
  (``invoice_details``); a client read and a subscriptions list per client, no
  get-many endpoint; two seeded tenants (tenant 103 holds W0's benchmark clients).
- TimeTap: invoice lists per business and status (OPEN, CLOSED, VOID; ``pageSize`` up
  to 500), lines and client embedded; two businesses; no subscriptions.
- ClubCollect: no list endpoint: one read per invoice (lines embedded); the ids come
  from an index the server keeps.
- Tight: one invoice list (``pageSize`` up to 500) with lines embedded; a client read
  and a recurring-plan list per client.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clubgraph import ids

FITNESSFORCE_PAGE = 200
TIMETAP_PAGE = 500
TIGHT_PAGE = 500

Bodies = list[dict[str, Any]]


@dataclass(frozen=True)
class Minimum:
    """The least a workload costs, and why."""

    round_trips: int
    round_trips_why: str
    requests_why: str
    # The minimum number of upstream requests, from the measured run's responses.
    requests: Callable[[Bodies], int]


def _invoice_nodes(data: Any) -> list[dict[str, Any]]:
    """The invoices of a connection named ``invoices`` (edges or nodes)."""
    conn = data["invoices"]
    if "edges" in conn:
        return [e["node"] for e in conn["edges"]]
    nodes: list[dict[str, Any]] = conn["nodes"]
    return nodes


def _w0(bodies: Bodies) -> int:
    nodes = _invoice_nodes(bodies[0]["data"])
    clients = {n["client"]["id"] for n in nodes}
    # Tenant 103 holds exactly these clients: its client list (one page) names them all.
    return math.ceil(len(nodes) / FITNESSFORCE_PAGE) + math.ceil(len(clients) / FITNESSFORCE_PAGE)


def _tenant(node: dict[str, Any]) -> str:
    """A node's tenant: its ``tenantId`` when selected, else from its global id."""
    if "tenantId" in node:
        return str(node["tenantId"])
    return ids.decode(node["id"]).tenant


def _list_requests(nodes: list[dict[str, Any]]) -> int:
    """The invoice lists' requests: per list stream (source x tenant, TimeTap also x
    status) its pages for the rows it contributes, at least one; plus one read per
    ClubCollect invoice (no list endpoint)."""
    rows: dict[tuple[str, ...], int] = {}
    for n in nodes:
        src = n["source"].lower()
        tenant = _tenant(n)
        key = (src, tenant, n["statusRaw"]) if src == "timetap" else (src, tenant)
        rows[key] = rows.get(key, 0) + 1
    per_source_streams = {"fitnessforce": 2, "timetap": 6, "tight": 1}
    page = {"fitnessforce": FITNESSFORCE_PAGE, "timetap": TIMETAP_PAGE, "tight": TIGHT_PAGE}
    total = 0
    for src, streams in per_source_streams.items():
        mine = [count for key, count in rows.items() if key[0] == src]
        # Every stream is asked at least once (even when it contributes nothing), and
        # for as many pages as the rows it contributes.
        total += sum(max(1, math.ceil(c / page[src])) for c in mine)
        total += max(0, streams - len(mine))
    return total + sum(count for key, count in rows.items() if key[0] == "clubcollect")


def _w1(bodies: Bodies) -> int:
    nodes = _invoice_nodes(bodies[0]["data"])
    fitnessforce_tenants = {_tenant(n) for n in nodes if n["source"] == "FITNESSFORCE"}
    tight = any(n["source"] == "TIGHT" for n in nodes)
    # Clients and their plans are not embedded in FitnessForce's or Tight's invoices:
    # whatever the endpoint (one per client, or the tenant's list), at least one
    # request per tenant for the clients and one for their subscriptions. TimeTap
    # embeds the client and has no subscriptions; ClubCollect's invoice carries its
    # member and it has no subscriptions either.
    return _list_requests(nodes) + 2 * len(fitnessforce_tenants) + (2 if tight else 0)


def _w2(bodies: Bodies) -> int:
    return _list_requests(_invoice_nodes(bodies[0]["data"]))


def _w3(bodies: Bodies) -> int:
    person = bodies[0]["data"]["client"]["person"]
    profiles: dict[str, int] = {}
    for p in person["profiles"]:
        profiles[p["source"].lower()] = profiles.get(p["source"].lower(), 0) + 1
    invoices = [e["node"] for e in person["invoices"]["edges"]]
    clubcollect_invoices = sum(1 for i in invoices if i["source"] == "CLUBCOLLECT")
    return (
        1  # the client itself
        # finding the person's profiles by email: FitnessForce's cross-tenant search,
        # TimeTap's client list per business, Tight's client list (ClubCollect: the index)
        + 1
        + 2
        + 1
        # per profile: FitnessForce invoices + subscriptions, TimeTap invoices
        # (one client list embeds lines), Tight: its invoices filtered by client and
        # its recurring plans; ClubCollect: one read per invoice
        + 2 * profiles.get("fitnessforce", 0)
        + profiles.get("timetap", 0)
        + 2 * profiles.get("tight", 0)
        + clubcollect_invoices
    )


def _w4(bodies: Bodies) -> int:
    return 2


MINIMUMS: dict[str, Minimum] = {
    "W0": Minimum(
        2,
        "the invoice list, then the clients it names (their ids come from the list)",
        "one list page per 200 invoices of the tenant, plus the tenant's client list, "
        "one page of 200 that holds all 10 clients (FitnessForce has no get-many by ids; "
        "a per-client read would be 10): 1 + 1",
        _w0,
    ),
    "W1": Minimum(
        2,
        "the invoice lists (all streams in parallel), then the clients and their "
        "subscriptions (in parallel, once the client ids are known)",
        "per list stream (FitnessForce 2, TimeTap 6, Tight 1) its pages for the rows it "
        "contributes (at least one), one read per ClubCollect invoice, and, since "
        "FitnessForce's and Tight's invoices embed neither the client nor its plans, at "
        "least one request per tenant for the clients and one for their subscriptions",
        _w1,
    ),
    "W2": Minimum(
        1,
        "every list stream and page (page numbers are known in advance) and every "
        "ClubCollect read (ids from the index) can go at once; lines are embedded",
        "per list stream (source x tenant, TimeTap also x status) its pages for the rows "
        "it contributes (at least one), plus one read per ClubCollect invoice",
        _w2,
    ),
    "W3": Minimum(
        3,
        "the client (its email), then the person's profiles in every source (by email), "
        "then each profile's invoices and subscriptions",
        "1 client read + the email lookups (FitnessForce 1, TimeTap 2, Tight 1) + per "
        "profile its invoices (and subscriptions where the source has them) + one read "
        "per ClubCollect invoice",
        _w3,
    ),
    "W4": Minimum(
        2,
        "the create (Tight takes the invoice with its lines in one POST), then the read "
        "back through node (a second GraphQL request that must reach the source)",
        "one POST that creates the invoice with its lines, one GET that reads it back",
        _w4,
    ),
}
