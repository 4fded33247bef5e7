"""Webhooks a sandbox server sends: one serial sender per server, signed, retried, logged.

Real platforms announce their changes by POSTing to a URL the partner registers; the
sandbox does the same once it is told where (``POST /__sandbox/webhooks``, or
``clubgraph sandbox --webhook-url``). What a delivery says is each source's business
(``fitnessforce/events.py``, ``clubcollect/notifications.py``); this module sends it:

- One sender per server, delivering in order: a delivery is not sent before the one
  before it got a 2xx answer or was given up, as platforms that promise ordering do.
- A non-2xx answer, a connection error or a timeout is retried after ``retry_s``,
  doubling each time, at most ``max_attempts`` attempts; then the delivery is failed
  and the next one goes.
- Every attempt is signed afresh (``signing.signature_header``: a new timestamp over
  the same body bytes), and carries the delivery's id, the same on every attempt and
  every redelivery, so that a receiver can tell a delivery it has already applied.
- The log (``GET /__sandbox/webhooks``) keeps the last ``LOG_LIMIT`` deliveries;
  ``POST /__sandbox/webhooks/redeliver`` sends one again; ``DELETE`` stops sending and
  forgets the configuration, the queue and the log.

Without a configuration nothing is queued: changes are not remembered for later.
The headers' names and the signature scheme are inferred (see ``signing.py``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from yarl import URL

from ..signing import signature_header
from .core import json_response

# How many deliveries the log keeps (and at most how many wait to be sent).
LOG_LIMIT = 1000
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_RETRY_S = 0.2
# How long one attempt may take before it counts as failed.
ATTEMPT_TIMEOUT_S = 10.0
_MAX_ATTEMPTS_LIMIT = 20
_MAX_RETRY_S = 60.0


class BadConfig(ValueError):
    """A webhook configuration that cannot be used; ``str()`` says why."""


@dataclass(frozen=True, slots=True)
class Scheme:
    """How one platform heads its deliveries, and the secret it signs with by default."""

    delivery_header: str
    signature_header: str
    default_secret: str
    event_header: str | None = None


@dataclass(frozen=True, slots=True)
class Config:
    """Where deliveries go and how hard the sender tries."""

    url: str
    secret: str | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    retry_s: float = DEFAULT_RETRY_S

    def view(self) -> dict[str, Any]:
        """The configuration as ``GET`` shows it: never the secret, only whether one is set."""
        return {
            "url": self.url,
            "secret_set": self.secret is not None,
            "max_attempts": self.max_attempts,
            "retry_s": self.retry_s,
        }


def parse_config(body: Any) -> Config:
    """The configuration a ``POST /__sandbox/webhooks`` body asks for."""
    if not isinstance(body, dict):
        raise BadConfig("the body must be a JSON object")
    unknown = sorted(set(body) - {"url", "secret", "max_attempts", "retry_s"})
    if unknown:
        raise BadConfig(f"unknown field {unknown[0]!r}")
    url = body.get("url")
    check_url(url)
    secret = body.get("secret")
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise BadConfig("secret must be a non-empty string")
    attempts = body.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
    if isinstance(attempts, bool) or not isinstance(attempts, int):
        raise BadConfig("max_attempts must be an integer")
    if not 1 <= attempts <= _MAX_ATTEMPTS_LIMIT:
        raise BadConfig(f"max_attempts must be between 1 and {_MAX_ATTEMPTS_LIMIT}")
    retry = body.get("retry_s", DEFAULT_RETRY_S)
    if isinstance(retry, bool) or not isinstance(retry, int | float):
        raise BadConfig("retry_s must be a number of seconds")
    if not 0 <= retry <= _MAX_RETRY_S:
        raise BadConfig(f"retry_s must be between 0 and {_MAX_RETRY_S:g}")
    assert isinstance(url, str)
    return Config(url, secret, attempts, float(retry))


def check_url(url: Any) -> None:
    """Refuse anything but an absolute http(s) URL with a host."""
    if not isinstance(url, str) or not url:
        raise BadConfig("url is required: the absolute http(s) URL to POST deliveries to")
    try:
        parsed = URL(url)
    except (TypeError, ValueError) as exc:
        raise BadConfig(f"url is not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise BadConfig(f"url must be an absolute http(s) URL, not {url!r}")


@dataclass(slots=True, eq=False)
class Delivery:
    """One announcement: its body as sent, its fixed headers, and how sending it went."""

    delivery_id: str
    event_type: str
    body: bytes
    headers: dict[str, str]
    # Called once the receiver answered 2xx (ClubCollect forgets the ids it named).
    on_delivered: Callable[[], None] | None = None
    status: str = "pending"
    attempts: int = 0
    last_status: int | None = None

    def view(self) -> dict[str, Any]:
        """The delivery as the log shows it."""
        return {
            "delivery_id": self.delivery_id,
            "event_type": self.event_type,
            "status": self.status,
            "attempts": self.attempts,
            "last_status": self.last_status,
        }


@dataclass(slots=True)
class Sender:
    """A server's webhook sender: its configuration, queue, log and the task that sends."""

    scheme: Scheme
    config: Config | None = None
    log: OrderedDict[str, Delivery] = field(default_factory=OrderedDict)
    queue: deque[Delivery] = field(default_factory=deque)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _http: aiohttp.ClientSession | None = None

    @property
    def secret(self) -> str:
        """The secret deliveries are signed with."""
        if self.config is not None and self.config.secret is not None:
            return self.config.secret
        return self.scheme.default_secret

    def sign(self, body: bytes) -> str:
        """The signature header's value for ``body``, sent now."""
        return signature_header(self.secret, int(time.time()), body)

    def headers(self, delivery_id: str, event_type: str | None = None) -> dict[str, str]:
        """The headers of a delivery besides its signature."""
        out = {"Content-Type": "application/json", self.scheme.delivery_header: delivery_id}
        if self.scheme.event_header is not None and event_type is not None:
            out[self.scheme.event_header] = event_type
        return out

    def post(
        self,
        event_type: str,
        body: Callable[[str], Any],
        *,
        on_delivered: Callable[[], None] | None = None,
    ) -> Delivery | None:
        """Queue an announcement whose body ``body(delivery_id)`` gives; None when off."""
        if self.config is None:
            return None
        delivery_id = uuid.uuid4().hex
        delivery = Delivery(
            delivery_id,
            event_type,
            orjson.dumps(body(delivery_id)),
            self.headers(delivery_id, event_type),
            on_delivered,
        )
        self.log[delivery_id] = delivery
        self._enqueue(delivery)
        self._trim()
        return delivery

    def redeliver(self, delivery_id: str) -> Delivery | None:
        """Send a logged delivery again (same id and body); None when it is not logged."""
        delivery = self.log.get(delivery_id)
        if delivery is None:
            return None
        delivery.status = "pending"
        self.log.move_to_end(delivery_id)
        self._enqueue(delivery)
        return delivery

    def _enqueue(self, delivery: Delivery) -> None:
        self.queue.append(delivery)
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def _trim(self) -> None:
        # Past the limit, finished deliveries leave the log first; if every logged
        # delivery still waits (a receiver down for long), the oldest are given up.
        excess = len(self.log) - LOG_LIMIT
        if excess <= 0:
            return
        for delivery_id in [d for d, v in self.log.items() if v.status != "pending"][:excess]:
            del self.log[delivery_id]
        while len(self.log) > LOG_LIMIT:
            _, oldest = self.log.popitem(last=False)
            oldest.status = "failed"
            if oldest in self.queue:
                self.queue.remove(oldest)

    async def _run(self) -> None:
        while True:
            while not self.queue:
                self._wake.clear()
                await self._wake.wait()
            await self._deliver(self.queue.popleft())

    async def _deliver(self, delivery: Delivery) -> None:
        tries = 0
        while (config := self.config) is not None:
            tries += 1
            delivery.attempts += 1
            delivery.last_status = await self._attempt(config.url, delivery)
            if delivery.last_status is not None and 200 <= delivery.last_status < 300:
                delivery.status = "delivered"
                if delivery.on_delivered is not None:
                    delivery.on_delivered()
                return
            if tries >= config.max_attempts:
                delivery.status = "failed"
                return
            await asyncio.sleep(config.retry_s * 2 ** (tries - 1))

    async def _attempt(self, url: str, delivery: Delivery) -> int | None:
        """The receiver's status for one attempt; None when no answer came."""
        if self._http is None:
            timeout = aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT_S)
            self._http = aiohttp.ClientSession(timeout=timeout)
        headers = {**delivery.headers, self.scheme.signature_header: self.sign(delivery.body)}
        try:
            async with self._http.post(url, data=delivery.body, headers=headers) as resp:
                # Read the answer so that the connection can carry the next delivery.
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, TimeoutError, OSError):
            return None

    def configure(self, config: Config) -> None:
        """Send to ``config.url`` from now on (what is queued goes there too)."""
        self.config = config

    async def stop(self) -> None:
        """Stop sending; forget the configuration, the queue and the log."""
        self.config = None
        self.queue.clear()
        self.log.clear()
        await self.close()

    async def close(self) -> None:
        """Stop the sending task and close its HTTP session."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                # Our own cancellation must go on; the task's is what we asked for.
                if current is not None and current.cancelling():
                    raise
        http, self._http = self._http, None
        if http is not None:
            await http.close()

    def view(self) -> dict[str, Any]:
        """What ``GET /__sandbox/webhooks`` answers."""
        return {
            "config": None if self.config is None else self.config.view(),
            "deliveries": [d.view() for d in self.log.values()],
        }


WEBHOOKS: web.AppKey[Sender] = web.AppKey("webhooks", Sender)


def _error(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status)


async def _json(request: web.Request) -> Any:
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise BadConfig("the body is not JSON") from None


async def _show(request: web.Request) -> web.Response:
    return json_response(request.app[WEBHOOKS].view())


async def _configure(request: web.Request) -> web.Response:
    try:
        config = parse_config(await _json(request))
    except BadConfig as exc:
        return _error(422, str(exc))
    sender = request.app[WEBHOOKS]
    sender.configure(config)
    return json_response(sender.view())


async def _stop(request: web.Request) -> web.Response:
    await request.app[WEBHOOKS].stop()
    return web.Response(status=204)


async def _redeliver(request: web.Request) -> web.Response:
    try:
        body = await _json(request)
    except BadConfig as exc:
        return _error(422, str(exc))
    delivery_id = body.get("delivery_id") if isinstance(body, dict) else None
    if not isinstance(delivery_id, str) or not delivery_id:
        return _error(422, "delivery_id is required")
    # Nothing is logged while webhooks are off, so an unconfigured sender finds nothing.
    delivery = request.app[WEBHOOKS].redeliver(delivery_id)
    if delivery is None:
        return _error(404, f"no delivery {delivery_id!r} in the log")
    return json_response(delivery.view(), 202)


async def _close(app: web.Application) -> None:
    await app[WEBHOOKS].close()


def install(app: web.Application, scheme: Scheme) -> Sender:
    """Give ``app`` a sender and the ``/__sandbox/webhooks`` routes."""
    sender = Sender(scheme)
    app[WEBHOOKS] = sender
    app.on_cleanup.append(_close)
    r = app.router
    r.add_get("/__sandbox/webhooks", _show)
    r.add_post("/__sandbox/webhooks", _configure)
    r.add_delete("/__sandbox/webhooks", _stop)
    r.add_post("/__sandbox/webhooks/redeliver", _redeliver)
    return sender


def configure(app: web.Application, url: str, settings: Mapping[str, Any] | None = None) -> None:
    """Have ``app`` send its webhooks to ``url`` (``settings``: the other config fields)."""
    app[WEBHOOKS].configure(parse_config({"url": url, **(settings or {})}))
