"""The shared cache: entity reads and reference data kept across requests, with TTLs.

Off unless ``CLUBGRAPH_CACHE`` is on. Per-request de-duplication is the loaders' job;
this cache sits beneath them and keeps records for a while *between* requests:

- entity reads by key (clients, invoices, subscriptions), each kind with its own TTL,
  through ``Loaders``; a key not found upstream and a failed read are never cached;
- reference data each connector reads repeatedly (FitnessForce tenants and their time
  zones, TimeTap businesses, Tight businesses), through ``ReferenceCache``.

Two backends: ``MemoryBackend`` (one process, bounded, LRU, TTL-aware; the default) and
``RedisBackend`` (``CLUBGRAPH_REDIS_URL``; every replica shares it). An unreachable
Redis never fails a request: the backend logs once, answers as if empty (reads go to
the upstream, nothing is stored), and tries again after a second, logging again once it
is back. Invalidations made while Redis is unreachable are lost, so entries written
before an outage may outlive a change by up to their TTL.

Keys. Every entity key names the caller's scope (``Context.scope``), the source, the
upstream it was read from (a fingerprint of the URL and credentials, so deployments
with different accounts never share), the entity type, the tenant and the upstream id:
a record cached for one caller or tenant is never served to another. Reference data
belongs to the server's upstream credentials, not to a caller, and is keyed by that
fingerprint alone. All keys start with a namespace (``clubgraph:v1:``). Each entity
entry is also tagged with its source, upstream, type and id (no scope, no tenant), so a
change seen by anyone (a mutation, an upstream notification naming only an id) drops
the entity for every scope at once.

Values. Records are frozen dataclasses holding Decimal money, aware datetimes, enums,
keys and the upstream JSON in ``raw``; both codecs round-trip them exactly (equal
values, same types, same Decimal exponents, same tzinfo). The trade-off:

- ``PickleCodec`` (memory backend): fastest, exact for every Python type, and a copy,
  so no request can alter another's records. Unpickling runs code named in the data,
  which is safe only because these bytes never leave the process.
- ``JSONCodec`` (Redis): an explicit, versioned encoding (orjson, with tags for
  Decimal, datetime, date, tuple, enum, ZoneInfo and the domain records, each from an
  allow-list). Slower than pickle and limited to the types it knows (a value holding
  anything else is simply not cached), but anyone who can write to the shared Redis
  can at worst make a read wrong, never run code in the server. A payload of another
  version, or one that does not decode, is a miss.

Consistency. Entries are invalidated, not updated, after writes; a read that started
upstream before a write and stores its (older) value after the invalidation keeps that
value until its TTL ends. TTLs bound every staleness.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import hashlib
import io
import logging
import pickle
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast
from urllib.parse import quote
from zoneinfo import ZoneInfo

import orjson

from .domain import (
    BillingInterval,
    ClientRecord,
    EntityType,
    InvoiceItemKind,
    InvoiceItemRecord,
    InvoiceRecord,
    InvoiceStatus,
    Key,
    MappedLater,
    Money,
    Source,
    SubscriptionKind,
    SubscriptionRecord,
    SubscriptionStatus,
)

if TYPE_CHECKING:
    from .connectors.base import Connector
    from .settings import Settings, SourceSettings

log = logging.getLogger("clubgraph.cache")

T = TypeVar("T")

NAMESPACE = "clubgraph:v1:"
REFERENCE = "reference"
# The TTL kind of each entity type the loaders cache.
KINDS: Mapping[EntityType, str] = {
    EntityType.CLIENT: "client",
    EntityType.INVOICE: "invoice",
    EntityType.SUBSCRIPTION: "subscription",
}


class Uncacheable(ValueError):
    """A value the codec cannot represent exactly: it is not cached."""


# --- codecs -----------------------------------------------------------------------


class Codec(abc.ABC):
    """Turns cached values into bytes and back, exactly."""

    @abc.abstractmethod
    def dumps(self, value: Any) -> bytes:
        """Bytes for ``value``; raises ``Uncacheable`` when it cannot be kept exactly."""

    @abc.abstractmethod
    def loads(self, data: bytes) -> Any:
        """The value; raises ``ValueError`` when the bytes do not decode."""


class _Pickler(pickle.Pickler):
    # Lines mapped on first use hold a mapping function: keep what they map to.
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, MappedLater):
            return tuple, (tuple(obj),)
        return NotImplemented


class PickleCodec(Codec):
    """Pickle, for bytes that never leave the process (see the module docstring)."""

    def dumps(self, value: Any) -> bytes:
        buffer = io.BytesIO()
        try:
            _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
        except Exception as exc:  # e.g. a line the upstream sent malformed
            raise Uncacheable(str(exc)) from exc
        return buffer.getvalue()

    def loads(self, data: bytes) -> Any:
        try:
            return pickle.loads(data)  # our own bytes, from this process
        except Exception as exc:
            raise ValueError(f"undecodable cache entry: {exc}") from exc


_RECORDS: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (Key, Money, ClientRecord, InvoiceItemRecord, InvoiceRecord, SubscriptionRecord)
}
_FIELDS: dict[type[Any], tuple[str, ...]] = {
    cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in _RECORDS.values()
}
_ENUMS: dict[str, type[Enum]] = {
    cls.__name__: cls
    for cls in (
        Source,
        EntityType,
        InvoiceStatus,
        SubscriptionStatus,
        SubscriptionKind,
        BillingInterval,
        InvoiceItemKind,
    )
}
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what orjson writes as a JSON integer
_MICRO = timedelta(microseconds=1)


def _tz(tz: Any) -> Any:
    if tz is None:
        return None
    if isinstance(tz, ZoneInfo) and tz.key:
        return ["z", tz.key]
    if type(tz) is timezone:
        offset = tz.utcoffset(None)
        name = tz.tzname(None)
        default = timezone(offset).tzname(None)
        return ["o", offset // _MICRO, None if name == default else name]
    raise Uncacheable(f"tzinfo {tz!r}")


def _untz(spec: Any) -> Any:
    if spec is None:
        return None
    if spec[0] == "z":
        return ZoneInfo(spec[1])
    offset = timedelta(microseconds=spec[1])
    return timezone(offset) if spec[2] is None else timezone(offset, spec[2])


def _enc(value: Any) -> Any:
    kind = type(value)
    if value is None or kind is str or kind is bool:
        return value
    if kind is int:
        return value if _INT_MIN <= value <= _INT_MAX else {"$i": str(value)}
    if kind is float:
        return value if value == value and abs(value) != float("inf") else {"$f": repr(value)}
    if kind is Decimal:
        return {"$d": str(value)}
    if kind is datetime:
        wall = value.replace(tzinfo=None).isoformat()
        return {"$dt": [wall, value.fold, _tz(value.tzinfo)]}
    if kind is date:
        return {"$date": value.isoformat()}
    if kind is list:
        return [_enc(v) for v in value]
    if kind is tuple or isinstance(value, MappedLater):
        return {"$t": [_enc(v) for v in value]}
    if kind is dict:
        if not all(type(k) is str for k in value):
            raise Uncacheable("a dict with keys that are not strings")
        body = {k: _enc(v) for k, v in value.items()}
        return {"$m": body} if any(k.startswith("$") for k in value) else body
    if isinstance(value, Enum):
        if _ENUMS.get(kind.__name__) is not kind:
            raise Uncacheable(f"enum {kind.__name__}")
        return {"$e": [kind.__name__, value.value]}
    if kind is ZoneInfo and value.key:
        return {"$z": value.key}
    fields = _FIELDS.get(kind)
    if fields is not None:
        return {"$r": [kind.__name__, {f: _enc(getattr(value, f)) for f in fields}]}
    raise Uncacheable(f"type {kind.__name__}")


def _dec(value: Any) -> Any:
    if isinstance(value, list):
        return [_dec(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        tag, body = next(iter(value.items()))
        if tag.startswith("$"):
            return _untag(tag, body)
    return {k: _dec(v) for k, v in value.items()}


def _untag(tag: str, body: Any) -> Any:
    if tag == "$d":
        return Decimal(body)
    if tag == "$dt":
        wall, fold, tz = body
        return datetime.fromisoformat(wall).replace(tzinfo=_untz(tz), fold=fold)
    if tag == "$t":
        return tuple(_dec(v) for v in body)
    if tag == "$m":
        return {k: _dec(v) for k, v in body.items()}
    if tag == "$e":
        return _ENUMS[body[0]](body[1])
    if tag == "$r":
        cls = _RECORDS[body[0]]
        return cls(**{k: _dec(v) for k, v in body[1].items()})
    if tag == "$date":
        return date.fromisoformat(body)
    if tag == "$z":
        return ZoneInfo(body)
    if tag == "$i":
        return int(body)
    if tag == "$f":
        return float(body)
    raise ValueError(f"unknown tag {tag}")


class JSONCodec(Codec):
    """A versioned JSON encoding of the domain's types (see the module docstring)."""

    VERSION = 1

    def dumps(self, value: Any) -> bytes:
        try:
            return orjson.dumps([self.VERSION, _enc(value)])
        except Uncacheable:
            raise
        except Exception as exc:  # e.g. a line the upstream sent malformed
            raise Uncacheable(str(exc)) from exc

    def loads(self, data: bytes) -> Any:
        try:
            version, body = orjson.loads(data)
            if version != self.VERSION:
                raise ValueError(f"cache entry of version {version}")
            return _dec(body)
        except ValueError:
            raise
        except Exception as exc:
            raise ValueError(f"undecodable cache entry: {exc}") from exc


# --- backends ---------------------------------------------------------------------


class Entry(NamedTuple):
    """One value to store: its key, its bytes, and the tag that invalidates it."""

    key: str
    data: bytes
    tag: str | None = None


class CacheBackend(abc.ABC):
    """Where cached bytes live. A backend never raises for its own unavailability:
    it answers as if empty and stores nothing."""

    codec: Codec

    @abc.abstractmethod
    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The bytes of each key (None: absent or expired), in order."""

    @abc.abstractmethod
    async def set_many(self, entries: Sequence[Entry], ttl: float) -> None:
        """Store every entry for ``ttl`` seconds."""

    @abc.abstractmethod
    async def delete_many(self, keys: Sequence[str]) -> None:
        """Forget these keys."""

    @abc.abstractmethod
    async def invalidate(self, tags: Sequence[str]) -> None:
        """Forget every entry stored with one of these tags."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release what the backend holds."""


@dataclasses.dataclass(slots=True)
class _Slot:
    expires: float
    data: bytes
    tag: str | None


class MemoryBackend(CacheBackend):
    """One process's cache: TTL-aware, and bounded by entries and bytes with LRU
    eviction (least recently read or written goes first)."""

    def __init__(
        self,
        *,
        max_entries: int = 50_000,
        max_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.codec: Codec = PickleCodec()
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._tags: dict[str, set[str]] = {}
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._slots)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        now = self._clock()
        out: list[bytes | None] = []
        for key in keys:
            slot = self._slots.get(key)
            if slot is not None and slot.expires <= now:
                self._drop(key)
                slot = None
            if slot is not None:
                self._slots.move_to_end(key)
            out.append(None if slot is None else slot.data)
        return out

    async def set_many(self, entries: Sequence[Entry], ttl: float) -> None:
        if ttl <= 0:
            return
        expires = self._clock() + ttl
        for key, data, tag in entries:
            if len(data) > self.max_bytes:
                continue
            self._drop(key)
            self._slots[key] = _Slot(expires, data, tag)
            self._bytes += len(data)
            if tag is not None:
                self._tags.setdefault(tag, set()).add(key)
        while self._slots and (len(self._slots) > self.max_entries or self._bytes > self.max_bytes):
            self._drop(next(iter(self._slots)))

    async def delete_many(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._drop(key)

    async def invalidate(self, tags: Sequence[str]) -> None:
        for tag in tags:
            for key in self._tags.pop(tag, ()):
                self._drop(key)

    async def close(self) -> None:
        self._slots.clear()
        self._tags.clear()
        self._bytes = 0

    def _drop(self, key: str) -> None:
        slot = self._slots.pop(key, None)
        if slot is None:
            return
        self._bytes -= len(slot.data)
        if slot.tag is not None:
            keys = self._tags.get(slot.tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._tags[slot.tag]


# Every member of each tag set, then the set itself, atomically.
_INVALIDATE = """
for _, tag in ipairs(KEYS) do
  local members = redis.call('SMEMBERS', tag)
  for i = 1, #members, 500 do
    redis.call('DEL', unpack(members, i, math.min(i + 499, #members)))
  end
  redis.call('DEL', tag)
end
return 0
"""


class RedisBackend(CacheBackend):
    """Redis, shared by every replica. An entry is a string with a TTL; each tag is a
    set of the keys stored with it, expiring with them."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 0.5,
        retry_after_s: float = 1.0,
    ) -> None:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.codec = JSONCodec()
        self.url = url
        self.retry_after_s = retry_after_s
        # One immediate retry: a pooled connection that a Redis restart dropped is
        # replaced without failing the call.
        self.client: Any = Redis.from_url(
            url,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            retry=Retry(NoBackoff(), 1),
        )
        self._invalidate = self.client.register_script(_INVALIDATE)
        self._down_until: float | None = None

    @property
    def available(self) -> bool:
        """False after a failure, until the next call that succeeds."""
        return self._down_until is None

    async def _call(self, op: str, call: Callable[[], Awaitable[T]], fallback: T) -> T:
        if self._down_until is not None and time.monotonic() < self._down_until:
            return fallback
        try:
            result = await call()
        except Exception as exc:  # unreachable, timed out, refused: never the request's
            if self._down_until is None:
                log.warning(
                    "shared cache unavailable (%s during %s); serving without it: %s",
                    type(exc).__name__,
                    op,
                    exc,
                )
            self._down_until = time.monotonic() + self.retry_after_s
            return fallback
        if self._down_until is not None:
            log.warning("shared cache available again")
            self._down_until = None
        return result

    async def ping(self) -> bool:
        return await self._call("ping", self.client.ping, False)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        misses: list[bytes | None] = [None] * len(keys)
        found: list[bytes | None] = await self._call("get", lambda: self.client.mget(keys), misses)
        return found

    async def set_many(self, entries: Sequence[Entry], ttl: float) -> None:
        ms = int(ttl * 1000)
        if not entries or ms <= 0:
            return

        async def run() -> None:
            pipe = self.client.pipeline(transaction=False)
            for key, data, tag in entries:
                pipe.set(key, data, px=ms)
                if tag is not None:
                    pipe.sadd(tag, key)
                    pipe.pexpire(tag, ms)
            await pipe.execute()

        await self._call("set", run, None)

    async def delete_many(self, keys: Sequence[str]) -> None:
        if keys:
            await self._call("delete", lambda: self.client.delete(*keys), None)

    async def invalidate(self, tags: Sequence[str]) -> None:
        if not tags:
            return
        done = await self._call("invalidate", lambda: self._invalidate(keys=list(tags)), False)
        if done is False:
            log.debug("shared cache unavailable: invalidation of %s skipped", ", ".join(tags))

    async def close(self) -> None:
        await self.client.aclose()


# --- the cache --------------------------------------------------------------------


def upstream_fingerprint(source: Source, url: str, credentials: Any) -> str:
    """Names one upstream account without revealing its credentials (a truncated
    SHA-256 of the source, URL and credentials); equal on every replica configured alike."""
    text = f"{source.value}\n{url.rstrip('/')}\n{credentials!r}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _part(text: str) -> str:
    return quote(text, safe="")


class Cache:
    """Typed access to a backend: entity records by key and scope, reference data."""

    def __init__(
        self,
        backend: CacheBackend,
        ttls: Mapping[str, float] | Iterable[tuple[str, float]],
        upstreams: Mapping[Source, str] | None = None,
        *,
        namespace: str = NAMESPACE,
    ) -> None:
        self.backend = backend
        self.ttls = dict(ttls)
        self.upstreams = dict(upstreams or {})
        self.namespace = namespace
        # Told how many records read by key were found and not (metrics); None: nobody is.
        self.on_lookups: Callable[[int, int], None] | None = None

    def ttl(self, kind: str) -> float:
        return self.ttls.get(kind, 0.0)

    def caches(self, entity: EntityType) -> bool:
        """Whether records of this type are cached (a kind with TTL 0 is not)."""
        kind = KINDS.get(entity)
        return kind is not None and self.ttl(kind) > 0

    # --- keys ---------------------------------------------------------------------

    def _upstream(self, source: Source) -> str:
        return self.upstreams.get(source, "-")

    def entity_key(self, scope: str, key: Key) -> str:
        return (
            f"{self.namespace}e:{_part(scope)}:{key.source.value}:{self._upstream(key.source)}"
            f":{key.type.value}:{_part(key.tenant)}:{_part(key.id)}"
        )

    def tag(self, source: Source, entity: EntityType, upstream_id: str) -> str:
        """What invalidates an entity in every scope and tenant."""
        return (
            f"{self.namespace}t:{source.value}:{self._upstream(source)}"
            f":{entity.value}:{_part(upstream_id)}"
        )

    def reference_key(self, source: Source, name: str) -> str:
        return f"{self.namespace}r:{source.value}:{self._upstream(source)}:{_part(name)}"

    # --- entities -----------------------------------------------------------------

    async def get_records(self, scope: str, keys: Sequence[Key]) -> dict[Key, Any]:
        """The cached records among ``keys`` (misses are absent)."""
        wanted = [k for k in keys if self.caches(k.type)]
        if not wanted:
            return {}
        blobs = await self.backend.get_many([self.entity_key(scope, k) for k in wanted])
        found: dict[Key, Any] = {}
        for key, blob in zip(wanted, blobs, strict=True):
            if blob is None:
                continue
            try:
                found[key] = self.backend.codec.loads(blob)
            except ValueError as exc:
                log.debug("cache entry for %s ignored: %s", key, exc)
        if self.on_lookups is not None:
            self.on_lookups(len(found), len(wanted) - len(found))
        return found

    async def put_records(self, scope: str, records: Iterable[tuple[Key, Any]]) -> None:
        """Store records read from the upstream, each kind with its TTL."""
        by_ttl: dict[float, list[Entry]] = {}
        for key, record in records:
            if record is None or not self.caches(key.type):
                continue
            try:
                data = self.backend.codec.dumps(record)
            except Uncacheable as exc:
                log.debug("record %s not cached: %s", key, exc)
                continue
            entry = Entry(self.entity_key(scope, key), data, self.tag(key.source, key.type, key.id))
            by_ttl.setdefault(self.ttl(KINDS[key.type]), []).append(entry)
        for ttl, entries in by_ttl.items():
            await self.backend.set_many(entries, ttl)

    async def invalidate(self, keys: Iterable[Key]) -> None:
        """Forget these entities in every scope."""
        tags = {self.tag(k.source, k.type, k.id) for k in keys if k.type in KINDS}
        await self.backend.invalidate(sorted(tags))

    async def invalidate_ids(
        self, source: Source, entity: EntityType, upstream_ids: Iterable[str]
    ) -> None:
        """Forget entities known only by upstream id, in every scope and tenant."""
        await self.backend.invalidate(sorted({self.tag(source, entity, i) for i in upstream_ids}))

    # --- reference data -----------------------------------------------------------

    def reference(self, source: Source) -> ReferenceCache | None:
        """The reference cache of one connector; None when reference data is not cached."""
        return ReferenceCache(self, source) if self.ttl(REFERENCE) > 0 else None

    async def close(self) -> None:
        await self.backend.close()


class ReferenceCache:
    """Reference data of one connector, read through the shared cache.

    Each value is also kept in the process until the shared entry expires (the expiry
    travels with the value), so reading it costs no round trip; one read per name at a
    time reaches the shared cache or the upstream.
    """

    def __init__(self, cache: Cache, source: Source) -> None:
        self.cache = cache
        self.source = source
        self._local: dict[str, tuple[float, Any]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def forget(self, name: str | None = None) -> None:
        """Drop the in-process copies (of one name, or all)."""
        if name is None:
            self._local.clear()
        else:
            self._local.pop(name, None)

    async def get(self, name: str, fetch: Callable[[], Awaitable[T]]) -> T:
        local = self._local.get(name)
        if local is not None and time.time() < local[0]:
            return cast(T, local[1])
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            local = self._local.get(name)
            if local is not None and time.time() < local[0]:
                return cast(T, local[1])
            key = self.cache.reference_key(self.source, name)
            codec = self.cache.backend.codec
            (blob,) = await self.cache.backend.get_many([key])
            if blob is not None:
                try:
                    expires, value = codec.loads(blob)
                except (ValueError, TypeError) as exc:
                    log.debug("reference entry %s ignored: %s", key, exc)
                else:
                    if time.time() < expires:
                        self._local[name] = (expires, value)
                        return cast(T, value)
            value = await fetch()
            ttl = self.cache.ttl(REFERENCE)
            expires = time.time() + ttl
            try:
                data = codec.dumps((expires, value))
            except Uncacheable as exc:
                log.debug("reference data %s not cached: %s", key, exc)
                return value
            # Kept in the process as decoded from the bytes: the same value a replica gets.
            self._local[name] = (expires, codec.loads(data)[1])
            await self.cache.backend.set_many([Entry(key, data)], ttl)
            return value


async def open_cache(
    settings: Settings,
    sources: Sequence[SourceSettings],
    connectors: Mapping[Source, Connector] | None = None,
    *,
    namespace: str = NAMESPACE,
) -> Cache | None:
    """The cache ``settings`` ask for (None when off), its reference caches given to
    ``connectors``. ``sources`` are the ``SourceSettings`` the connectors were built from."""
    if not settings.cache_enabled:
        return None
    upstreams = {
        cfg.source: upstream_fingerprint(cfg.source, cfg.url, cfg.credentials) for cfg in sources
    }
    backend: CacheBackend
    if settings.redis_url:
        redis = RedisBackend(settings.redis_url)
        await redis.ping()  # connects now; logs (once) when it cannot
        backend = redis
    else:
        backend = MemoryBackend()
    cache = Cache(backend, settings.cache_ttls, upstreams, namespace=namespace)
    for source, connector in (connectors or {}).items():
        connector.reference_cache = cache.reference(source)
    log.info(
        "shared cache: %s, TTLs %s",
        "redis" if settings.redis_url else "memory",
        ", ".join(f"{k}={v:g}s" for k, v in cache.ttls.items()),
    )
    return cache
