"""The hub: where announced changes are recorded, invalidated and published.

Webhook receivers and pollers hand their events here. Announcing an event drops the
entities it names from the shared cache (for every scope, so that subscribers and
every later read see fresh state) and then publishes it to the broker. At start, what
was recorded but never published (the process stopped in between) is published.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ..cache import Cache
from .broker import Broker
from .journal import Journal
from .model import ChangeEvent

log = logging.getLogger("clubgraph.events")

# Deliveries and published events older than this are forgotten (a week): far past
# any signature's window, so a replay is still refused by its timestamp.
RETENTION_S = 7 * 24 * 3600.0


class EventHub:
    """The journal, the broker and the cache, together."""

    def __init__(self, journal: Journal, broker: Broker, cache: Cache | None = None) -> None:
        self.journal = journal
        self.broker = broker
        self.cache = cache

    async def start(self) -> None:
        await self.journal.start()
        await self.broker.start()
        await self.journal.prune(RETENTION_S)
        left = await self.journal.unpublished()
        if left:
            log.warning("publishing %d recorded events the last run did not", len(left))
            await self.announce(left)

    async def close(self) -> None:
        await self.broker.close()
        await self.journal.close()

    async def announce(self, events: Sequence[ChangeEvent]) -> None:
        """Invalidate what ``events`` changed, then publish them (recorded already)."""
        if not events:
            return
        if self.cache is not None:
            changed = list(dict.fromkeys(e.key for e in events))
            await self.cache.invalidate(changed)
        await self.broker.publish(events)
        await self.journal.published(events)
