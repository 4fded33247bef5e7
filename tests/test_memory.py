"""A request's records are freed when its answer goes, not left to the cycle collector."""

from __future__ import annotations

import gc
from collections import Counter

from clubgraph import workloads
from clubgraph.domain import (
    ClientRecord,
    InvoiceItemRecord,
    InvoiceRecord,
    Money,
    SubscriptionRecord,
)
from support import GraphServer

_DOMAIN = (ClientRecord, InvoiceRecord, InvoiceItemRecord, SubscriptionRecord, Money)


async def test_a_request_leaves_no_records_in_reference_cycles(graph: GraphServer) -> None:
    query = workloads.load("W1")
    await graph.data(query, {"first": 20})
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        data = await graph.data(query, {"first": 20})
        gc.collect()
        left = Counter(type(o).__name__ for o in gc.garbage if isinstance(o, _DOMAIN))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert len(data["invoices"]["edges"]) == 20
    # Every record, line and amount of the answer was freed by reference counting.
    assert left == Counter()
