"""How a server process sets Python's cycle collector.

A request allocates thousands of objects that live until its answer goes (upstream
JSON, records, futures), and with the default thresholds (700, 10, 10) the collector
runs several times per request, each time walking those live objects and, every few
requests, everything the process holds: half of a request's CPU time on a page of 100
invoices. Requests leave almost no cyclic garbage (``Loaders.close``), so the collector
can run far less often; what the process built before serving (schema, settings,
modules) is moved out of its sight for good.
"""

from __future__ import annotations

import gc

# A young collection every 50,000 net allocations (a few requests' worth), an older one
# every 20 of those, a full one every 10 of these (and only when the long-lived objects
# have grown by a quarter since the last, CPython's own rule).
THRESHOLDS = (50_000, 20, 10)


def settle_for_serving() -> None:
    """Collect once, freeze what survives (it is never walked again), raise thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
