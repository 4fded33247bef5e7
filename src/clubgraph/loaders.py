"""Per-request dataloaders: every read by key or by parent goes through one.

Keys from several sources in one batch are split by source and fetched
concurrently. What a response already carried is primed into the loaders that
would otherwise fetch it: an invoice's lines, and a client embedded in an invoice.
A source that fails fails only the keys that belong to it.

With the shared cache on (``cache.py``), reads of clients, invoices and subscriptions
by key look there first, in the request's scope, and fetch only the misses; what was
fetched is stored with its kind's TTL (a key not found, or a failed read, is not).
Writes invalidate the entities they changed, for every scope.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from aiodataloader import DataLoader

from .cache import Cache
from .commands import WriteResult
from .connectors.base import Connector, normalize_email
from .domain import (
    ClientRecord,
    EntityType,
    InvoiceItemRecord,
    InvoiceRecord,
    Key,
    Source,
    SubscriptionRecord,
)
from .identity import DEMO_STAFF, Principal

if TYPE_CHECKING:
    from .observability import Telemetry

R = TypeVar("R")
K = TypeVar("K")
V = TypeVar("V")
Fetch = Callable[[Connector, Sequence[Key]], Awaitable[Sequence[Any]]]


_ABSENT: Any = object()


class Deferred:
    """A value to prime made only if its key is loaded (``Loader.prime``); ``make``
    may give None: nothing known after all, the key is read as usual."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


class Loader(DataLoader[K, V]):
    """A DataLoader whose primed values become futures only when loaded.

    A list page primes its records (and the lines and clients they carry) so that a
    later read by key costs nothing; most are never read by key. Priming here only
    notes the value; ``load`` turns it into a cached future first. What the loader
    answers is the same as with aiodataloader's ``prime``: the first value primed for
    a key wins, and a key already cached is left as it is.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._primed: dict[Any, Any] = {}

    def prime(self, key: K, value: V | Deferred) -> Loader[K, V]:  # type: ignore[override]
        cache_key = self.get_cache_key(key)
        if cache_key not in self._cache:
            self._primed.setdefault(cache_key, value)
        return self

    def load(self, key: K) -> asyncio.Future[V]:
        if self._primed and key is not None:
            value = self._primed.pop(self.get_cache_key(key), _ABSENT)
            if type(value) is Deferred:
                value = value.make()
                if value is None:
                    value = _ABSENT
            if value is not _ABSENT:
                super().prime(key, value)
        return super().load(key)

    def started(self, key: K) -> asyncio.Future[V] | None:
        """The load of ``key`` when one was asked for or primed, else None (nothing
        is loaded here)."""
        cache_key = self.get_cache_key(key)
        if cache_key in self._primed:
            return self.load(key)
        return self._cache.get(cache_key)

    def clear(self, key: K) -> Loader[K, V]:
        self._primed.pop(self.get_cache_key(key), None)
        super().clear(key)
        return self

    def clear_all(self) -> Loader[K, V]:
        self._primed.clear()
        super().clear_all()
        return self


def _embeds_clients(connector: Any) -> bool:
    """Whether a connector's invoices may carry their client (it says which)."""
    method = getattr(connector, "embedded_client", None)
    return method is not None and getattr(method, "__func__", None) is not Connector.embedded_client


class SourceNotConfigured(LookupError):
    """A key names a source this server has no connector for."""


class Loaders:
    """The loaders of one GraphQL request."""

    def __init__(
        self,
        connectors: Mapping[Source, Connector],
        *,
        cache: Cache | None = None,
        scope: str = "anonymous",
        telemetry: Telemetry | None = None,
    ) -> None:
        self.connectors = connectors
        # Who is asking: a record outside its scope loads as absent (the Context sets it).
        self.principal: Principal = DEMO_STAFF
        # The shared cache, read and written in ``scope`` (the Context sets it to its own).
        self.cache = cache
        self.scope = scope
        # Invalidations started by ``wrote``, awaited by ``settle``.
        self._invalidating: set[asyncio.Task[None]] = set()
        self.client: Loader[Key, ClientRecord | None] = Loader(
            self._gate(self._batch(lambda c, ks: c.clients(ks), shared=True), _client_visible)
        )
        self.invoice: Loader[Key, InvoiceRecord | None] = Loader(
            self._gate(
                self._batch(lambda c, ks: c.invoices(ks), self._seen_invoice, shared=True),
                _invoice_visible,
            )
        )
        self.invoice_items: Loader[Key, Sequence[InvoiceItemRecord]] = Loader(
            self._gate(
                self._batch(lambda c, ks: c.invoice_items(ks), self._seen_items),
                self._lines_of_visible_invoice,
                absent=(),
            )
        )
        # Lines that came embedded in invoices, indexed by key only when a line is
        # asked for by key: the invoices' lines are then mapped, not before.
        self._embedded_lines: list[Sequence[InvoiceItemRecord]] = []
        # Whether each source's connector may carry clients inside invoices.
        self._embeds: dict[Source, bool] = {}
        self._lines: dict[Key, InvoiceItemRecord] = {}
        fetch_lines = self._batch(lambda c, ks: c.invoice_item(ks))

        async def lines_by_key(keys: list[Key]) -> list[Any]:
            known = self._known_lines()
            missing = [k for k in keys if k not in known]
            fetched = dict(zip(missing, await fetch_lines(missing), strict=True)) if missing else {}
            return [known[k] if k in known else fetched[k] for k in keys]

        self.invoice_item: Loader[Key, InvoiceItemRecord | None] = Loader(
            self._gate(lines_by_key, self._line_of_visible_invoice)
        )
        self.subscription: Loader[Key, SubscriptionRecord | None] = Loader(
            self._gate(
                self._batch(lambda c, ks: c.subscriptions(ks), shared=True),
                _subscription_visible,
            )
        )
        self.client_invoices: Loader[Key, Sequence[InvoiceRecord]] = Loader(
            self._gate(
                self._batch(lambda c, ks: c.client_invoices(ks), self._seen_invoices),
                _visible_invoices,
                absent=(),
            )
        )
        self.client_subscriptions: Loader[Key, Sequence[SubscriptionRecord]] = Loader(
            self._gate(
                self._batch(lambda c, ks: c.client_subscriptions(ks), self._seen_subscriptions),
                _visible_subscriptions,
                absent=(),
            )
        )
        self.subscription_invoices: Loader[Key, Sequence[InvoiceRecord]] = Loader(
            self._gate(
                self._batch(lambda c, ks: c.subscription_invoices(ks), self._seen_invoices),
                _visible_invoices,
                absent=(),
            )
        )

        self.clients_by_email: Loader[str, Sequence[ClientRecord]] = Loader(self._find_by_email)
        if telemetry is not None:
            # Every batch measured (its size) and traced (``loader.batch``), by loader name.
            for name, loader in vars(self).items():
                if isinstance(loader, DataLoader):
                    loader.batch_load_fn = telemetry.loader_batch(name, loader.batch_load_fn)

    # --- priming ------------------------------------------------------------------

    def remember_invoices(self, records: Iterable[InvoiceRecord]) -> None:
        """Prime the loaders with invoices obtained outside them (list pages)."""
        for record in records:
            self.invoice.prime(record.key, record)
            self._seen_invoice(record)

    def wrote(self, result: WriteResult) -> None:
        """Read-after-write: what a write returned replaces what this request had
        cached, and lists that may now differ are forgotten. The entities it changed
        leave the shared cache, for every scope (``settle`` waits for that)."""
        if self.cache is not None:
            self._invalidate(result)
        self._known_lines()
        if result.removed is not None:
            self._lines.pop(result.removed, None)
            for loader in (self.invoice, self.invoice_item, self.subscription):
                loader.clear(result.removed)
            self.invoice_items.clear(result.removed)
        invoice = result.invoice
        if isinstance(invoice, InvoiceRecord):
            self.invoice.clear(invoice.key)
            self.invoice_items.clear(invoice.key)
            self.invoice.prime(invoice.key, invoice)
            if invoice.items is not None:
                for line in invoice.items:
                    self.invoice_item.clear(line.key)
                    self._lines.pop(line.key, None)
            self._seen_invoice(invoice)
            if invoice.client_key is not None:
                self.client_invoices.clear(invoice.client_key)
            if invoice.subscription_key is not None:
                self.subscription_invoices.clear(invoice.subscription_key)
        item = result.item
        if isinstance(item, InvoiceItemRecord):
            self.invoice_item.clear(item.key)
            self.invoice_item.prime(item.key, item)
        subscription = result.subscription
        if isinstance(subscription, SubscriptionRecord):
            self.subscription.clear(subscription.key)
            self.subscription.prime(subscription.key, subscription)
            if subscription.client_key is not None:
                self.client_subscriptions.clear(subscription.client_key)

    def _invalidate(self, result: WriteResult) -> None:
        assert self.cache is not None
        changed: list[Key] = []
        if result.removed is not None:
            changed.append(result.removed)
        for record in (result.invoice, result.subscription):
            if isinstance(record, InvoiceRecord | SubscriptionRecord):
                changed.append(record.key)
        if isinstance(result.item, InvoiceItemRecord):
            # A line is cached inside its invoice.
            changed.append(result.item.invoice_key)
        if not changed:
            return
        task = asyncio.get_running_loop().create_task(self.cache.invalidate(changed))
        self._invalidating.add(task)
        task.add_done_callback(self._invalidating.discard)

    def forget(self) -> None:
        """Forget what was loaded: once a request's answer is complete, or before a
        subscription's next event is read.

        Each loader's batch function refers back to these loaders, so the loaders, their
        cached futures and every record those hold form one reference cycle: left to the
        cycle collector, a page of records outlives its request and the collector walks
        it again and again. Emptying the caches frees them as soon as the answer goes.
        """
        loaders = self.__dict__.get("_all")
        if loaders is None:
            loaders = self._all = [v for v in vars(self).values() if isinstance(v, DataLoader)]
        for loader in loaders:
            loader.clear_all()
        self._embedded_lines.clear()
        self._lines.clear()

    async def settle(self) -> None:
        """Wait until what this request's writes invalidated is gone from the shared
        cache (the app does before it answers)."""
        while self._invalidating:
            await asyncio.gather(*self._invalidating, return_exceptions=True)

    def remember_clients(self, records: Iterable[ClientRecord]) -> None:
        for record in records:
            self.client.prime(record.key, record)

    def remember_subscriptions(self, records: Iterable[SubscriptionRecord]) -> None:
        for record in records:
            self.subscription.prime(record.key, record)

    def _seen_invoice(self, record: Any) -> None:
        if not isinstance(record, InvoiceRecord):
            return
        if record.items is not None:
            self.invoice_items.prime(record.key, record.items)
            self._embedded_lines.append(record.items)
        source = record.key.source
        connector = self.connectors.get(source)
        client_key = record.client_key
        embeds = self._embeds.get(source)
        if embeds is None:
            embeds = self._embeds[source] = _embeds_clients(connector)
        if client_key is not None and embeds:
            # The client the invoice carries, mapped only if that client is read.
            def embedded() -> ClientRecord | None:
                client = connector.embedded_client(record)  # type: ignore[union-attr]
                return client if client is not None and client.key == client_key else None

            self.client.prime(client_key, Deferred(embedded))

    def _seen_items(self, items: Any) -> None:
        if isinstance(items, Sequence):
            self._embedded_lines.append(items)

    def _known_lines(self) -> dict[Key, InvoiceItemRecord]:
        """Every line seen so far by key (mapping what was not mapped yet)."""
        for lines in self._embedded_lines:
            for line in lines:
                self._lines[line.key] = line
        self._embedded_lines.clear()
        return self._lines

    def _seen_invoices(self, records: Any) -> None:
        if isinstance(records, Sequence):
            for record in records:
                self.invoice.prime(record.key, record)
                self._seen_invoice(record)

    def _seen_subscriptions(self, records: Any) -> None:
        if isinstance(records, Sequence):
            self.remember_subscriptions(records)

    # --- people across sources ---------------------------------------------------

    async def _find_by_email(self, emails: list[str]) -> list[Sequence[ClientRecord]]:
        """Client records per email, each source asked with the email filter (which it
        pushes to the upstream where it can), all emails and sources at once."""
        wanted = [normalize_email(e) for e in emails]
        searches = [
            (email, connector)
            for email in dict.fromkeys(w for w in wanted if w)
            for connector in self.connectors.values()
        ]

        results = await asyncio.gather(*(c.clients_by_email(e) for e, c in searches))
        found: dict[str, list[ClientRecord]] = defaultdict(list)
        for (email, _), records in zip(searches, results, strict=True):
            for record in records:
                if normalize_email(record.email) == email and self.principal.may_see_client(
                    record.key
                ):
                    found[email].append(record)
                    self.client.prime(record.key, record)
        return [found.get(w, []) if w else [] for w in wanted]

    # --- who sees what -------------------------------------------------------------

    def _gate(self, batch: Batch, visible: Visible, absent: Any = None) -> Batch:
        """``batch`` seen through the caller's scope: keys of tenants the caller cannot
        see are not asked for at all, and what comes back outside its scope is absent
        (``absent``: None for a record, empty for a list; a list is narrowed to what the
        caller may see), exactly as a key that does not exist."""

        async def gated(keys: list[Key]) -> list[Any]:
            principal = self.principal
            if principal.sees_every_tenant:
                return await batch(keys)
            asked = [k for k in keys if _may_ask(principal, k)]
            found = dict(zip(asked, await batch(asked), strict=True)) if asked else {}
            results: list[Any] = []
            for key in keys:
                value = found.get(key, absent)
                if value is not None and not isinstance(value, BaseException):
                    value = await visible(principal, key, value)
                results.append(value)
            return results

        return gated

    async def _invoice_is_visible(self, principal: Principal, key: Key) -> bool:
        if key in principal.invoices or not principal.is_member:
            return principal.may_see_invoice(key)
        return await self.invoice.load(key) is not None

    async def _lines_of_visible_invoice(self, principal: Principal, key: Key, lines: Any) -> Any:
        return lines if await self._invoice_is_visible(principal, key) else ()

    async def _line_of_visible_invoice(self, principal: Principal, key: Key, line: Any) -> Any:
        return line if await self._invoice_is_visible(principal, line.invoice_key) else None

    # --- batching -----------------------------------------------------------------

    def _batch(
        self, fetch: Fetch, seen: Callable[[Any], None] | None = None, *, shared: bool = False
    ) -> Callable[[list[Key]], Coroutine[Any, Any, list[Any]]]:
        """A batch function over ``fetch``; ``shared``: entity reads by key that go
        through the shared cache."""

        async def batch(keys: list[Key]) -> list[Any]:
            cache = self.cache if shared else None
            hits: dict[Key, Any] = {}
            if cache is not None:
                await self.settle()
                hits = await cache.get_records(self.scope, keys)
            groups: dict[Source, list[int]] = defaultdict(list)
            results: list[Any] = [None] * len(keys)
            for i, key in enumerate(keys):
                if key in hits:
                    results[i] = hits[key]
                    if seen is not None:
                        seen(results[i])
                else:
                    groups[key.source].append(i)

            async def run(source: Source, indexes: list[int]) -> None:
                connector = self.connectors.get(source)
                try:
                    if connector is None:
                        raise SourceNotConfigured(f"source {source.value} is not configured")
                    values = await fetch(connector, [keys[i] for i in indexes])
                except Exception as exc:  # one failing source fails only its own keys
                    for i in indexes:
                        results[i] = exc
                    return
                for i, value in zip(indexes, values, strict=True):
                    results[i] = value
                    if seen is not None and value is not None:
                        seen(value)

            await asyncio.gather(*(run(s, idx) for s, idx in groups.items()))
            if cache is not None:
                fetched = (
                    (keys[i], results[i])
                    for indexes in groups.values()
                    for i in indexes
                    if results[i] is not None and not isinstance(results[i], BaseException)
                )
                await cache.put_records(self.scope, fetched)
            return results

        return batch


Batch = Callable[[list[Key]], Coroutine[Any, Any, list[Any]]]
Visible = Callable[[Principal, Key, Any], Awaitable[Any]]


def _may_ask(principal: Principal, key: Key) -> bool:
    """Whether a key is worth reading for this caller: a staff user's tenants; a
    member's own clients, and any other record (its client decides once it is read)."""
    if principal.is_member:
        return key.type is not EntityType.CLIENT or principal.may_see_client(key)
    return principal.may_see_tenant(key.source, key.tenant)


async def _client_visible(principal: Principal, key: Key, record: ClientRecord) -> Any:
    return record if principal.may_see_client(record.key) else None


async def _invoice_visible(principal: Principal, key: Key, record: InvoiceRecord) -> Any:
    return record if principal.may_see_invoice(record.key, record.client_key) else None


async def _subscription_visible(principal: Principal, key: Key, record: SubscriptionRecord) -> Any:
    return record if principal.may_see_subscription(record.key, record.client_key) else None


async def _visible_invoices(
    principal: Principal, key: Key, records: Sequence[InvoiceRecord]
) -> Any:
    return [r for r in records if principal.may_see_invoice(r.key, r.client_key)]


async def _visible_subscriptions(
    principal: Principal, key: Key, records: Sequence[SubscriptionRecord]
) -> Any:
    return [r for r in records if principal.may_see_subscription(r.key, r.client_key)]
