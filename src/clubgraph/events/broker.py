"""The event broker: recorded events reach every subscriber, in this process or in all.

Each subscription opens an ``Inbox``, a bounded queue of its own: publishing never
waits for a subscriber, and one that falls behind by more than its inbox holds is told
so and dropped (it may subscribe again) while the others go on. Events reach every
inbox in the order they were published.

``Broker`` delivers within one process. ``RedisBroker`` (``CLUBGRAPH_REDIS_URL``)
publishes on a Redis pub/sub channel that every replica listens to, so an event
recorded by one replica reaches subscribers connected to another. While Redis cannot
be reached it says so once, delivers what this process publishes to its own
subscribers, and listens again when Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from typing import Any

import orjson

from .model import ChangeEvent

log = logging.getLogger("clubgraph.events")

INBOX_SIZE = 256


class FellBehind(RuntimeError):
    """A subscriber whose inbox overflowed: it missed events and is dropped."""


class Drained(Exception):
    """The server is stopping: the subscription ends (cleanly, with ``complete``)."""


class Inbox:
    """One subscriber's events, in order."""

    def __init__(self, broker: Broker, size: int) -> None:
        self._broker = broker
        self._queue: asyncio.Queue[ChangeEvent | None] = asyncio.Queue(size)
        self.overflowed = False
        self.drained = False

    def offer(self, event: ChangeEvent) -> None:
        if self.overflowed:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            # Make room for the wake-up: the reader learns it fell behind.
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
            self._queue.put_nowait(None)

    def drain(self) -> None:
        """End the subscription: its reader gets ``Drained``."""
        self.drained = True
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    async def next(self) -> ChangeEvent:
        """The next event; ``FellBehind`` once events were lost, ``Drained`` once the
        server is stopping."""
        if self.drained:
            raise Drained
        event = await self._queue.get()
        if self.drained:
            raise Drained
        if event is None or self.overflowed:
            raise FellBehind(
                "this subscription fell behind the events and was stopped; subscribe again"
            )
        return event

    def close(self) -> None:
        self._broker.detach(self)


class Broker:
    """Delivers published events to the inboxes of this process."""

    kind = "memory"

    def __init__(self, *, inbox_size: int = INBOX_SIZE) -> None:
        self._inbox_size = inbox_size
        self._inboxes: set[Inbox] = set()
        # Set when the server stops: subscriptions end instead of waiting on.
        self.draining = asyncio.Event()
        # Set while no subscription is open (``emptied``).
        self._empty = asyncio.Event()
        self._empty.set()

    @property
    def subscribers(self) -> int:
        return len(self._inboxes)

    @property
    def available(self) -> bool:
        """Whether events reach every replica's subscribers (always, in one process)."""
        return True

    def open(self) -> Inbox:
        inbox = Inbox(self, self._inbox_size)
        self._inboxes.add(inbox)
        self._empty.clear()
        if self.draining.is_set():
            inbox.drain()
        return inbox

    def detach(self, inbox: Inbox) -> None:
        self._inboxes.discard(inbox)
        if not self._inboxes:
            self._empty.set()

    async def emptied(self) -> None:
        """Return once no subscription of this process is open."""
        await self._empty.wait()

    def drain(self) -> None:
        """End every subscription of this process (the server is stopping)."""
        self.draining.set()
        for inbox in list(self._inboxes):
            inbox.drain()

    def deliver(self, events: Sequence[ChangeEvent]) -> None:
        """Hand events to every inbox of this process."""
        for event in events:
            for inbox in list(self._inboxes):
                inbox.offer(event)

    async def publish(self, events: Sequence[ChangeEvent]) -> None:
        self.deliver(events)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._inboxes.clear()
        self._empty.set()


class RedisBroker(Broker):
    """Events over a Redis pub/sub channel shared by every replica."""

    kind = "redis"

    def __init__(
        self,
        url: str,
        *,
        channel: str = "clubgraph:v1:events",
        inbox_size: int = INBOX_SIZE,
        retry_s: float = 1.0,
    ) -> None:
        super().__init__(inbox_size=inbox_size)
        from redis.asyncio import Redis

        self.url = url
        self.channel = channel
        self._retry_s = retry_s
        self._client: Any = Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0)
        self._listener: asyncio.Task[None] | None = None
        # Set while this process is subscribed to the channel.
        self._listening = asyncio.Event()
        self._warned = False
        # Who holds a lease: this process, uniquely.
        self._holder = uuid.uuid4().hex

    @property
    def available(self) -> bool:
        return self._listening.is_set()

    async def start(self) -> None:
        self._listener = asyncio.get_running_loop().create_task(self._listen())
        # Subscribed before the server takes requests, when Redis is there at all.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), 2.0)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self._client.aclose()
        await super().close()

    async def publish(self, events: Sequence[ChangeEvent]) -> None:
        if not events:
            return
        payload = orjson.dumps([e.to_json() for e in events])
        if self._listening.is_set():
            try:
                await self._client.publish(self.channel, payload)
                return
            except Exception as exc:  # unreachable, timed out: never the webhook's failure
                self._down(exc, "publishing")
        # Without Redis, at least this process's subscribers get them.
        self.deliver(events)

    async def lease(self, name: str, seconds: float) -> bool:
        """Whether this process holds the lease ``name`` (taking it when free, renewing
        it when its own) for the next ``seconds`` x 3: one replica at a time polls. When
        Redis cannot be reached every replica may."""
        key = f"{self.channel}:lease:{name}"
        ttl_ms = max(int(seconds * 3000), 1000)
        try:
            if await self._client.set(key, self._holder, nx=True, px=ttl_ms):
                return True
            held: bytes | None = await self._client.get(key)
            if held == self._holder.encode():
                await self._client.pexpire(key, ttl_ms)
                return True
            return False
        except Exception as exc:
            self._down(exc, "leasing")
            return True

    def _down(self, exc: Exception, doing: str) -> None:
        self._listening.clear()
        if not self._warned:
            self._warned = True
            log.warning(
                "event broker: Redis unavailable (%s while %s); events reach this "
                "process's subscribers only until it is back",
                type(exc).__name__,
                doing,
            )

    async def _listen(self) -> None:
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                self._listening.set()
                if self._warned:
                    self._warned = False
                    log.warning("event broker: Redis is back; events reach every replica")
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    self._received(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._down(exc, "listening")
                await asyncio.sleep(self._retry_s)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _received(self, data: bytes) -> None:
        try:
            events = [ChangeEvent.from_json(item) for item in orjson.loads(data)]
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("event broker: dropped a malformed message (%s)", type(exc).__name__)
            return
        self.deliver(events)


def open_broker(redis_url: str | None, namespace: str = "clubgraph:v1:") -> Broker:
    """The broker the settings ask for: Redis when a URL is set, else this process's."""
    if redis_url:
        return RedisBroker(redis_url, channel=f"{namespace}events")
    return Broker()
