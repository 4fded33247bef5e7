"""Timeouts, retries and circuit breakers for calls to upstreams.

A GraphQL request fans out into many upstream calls, some of them in loader batch
tasks. A slow or failing source must not hold the whole response hostage, so:

- every call made for one GraphQL request ends by that request's *deadline*, a
  context variable that batch tasks inherit with the rest of the context;
- a failed *idempotent* call is tried again after an exponential backoff with full
  jitter (writes never are: a write that timed out may have happened);
- each source has a *circuit breaker*: after a run of failures its calls fail at once
  instead of piling up on a source that is down, until a probe call shows that it is
  back.

``UpstreamHTTP`` (http.py) applies all three; this module keeps them free of HTTP.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import TYPE_CHECKING

from .errors import UpstreamTimeout, UpstreamUnavailable

if TYPE_CHECKING:
    from .observability import Telemetry
    from .settings import Settings, SourceSettings

Clock = Callable[[], float]

# Methods that read: calling them twice does what calling them once does.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Answers worth another try: the upstream is overloaded, restarting, or a proxy gave up.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Answers that honour Retry-After (RFC 9110 names it for 503 and 429).
RETRY_AFTER_STATUSES = frozenset({429, 503})

# --- the request deadline -------------------------------------------------------------

# The time.monotonic() instant by which every upstream call of the current GraphQL
# request must end; None outside a request (lifespan work, background crawls).
_deadline: ContextVar[float | None] = ContextVar("clubgraph_deadline", default=None)


def set_deadline(seconds: float, *, clock: Clock = time.monotonic) -> None:
    """Bound every upstream call made from here on, in this context, to ``seconds``.

    Called where a GraphQL request starts; loader batch tasks are created from the
    request's task and copy its context, so they see the same deadline.
    """
    _deadline.set(clock() + seconds)


@contextmanager
def deadline(seconds: float, *, clock: Clock = time.monotonic) -> Iterator[None]:
    """A deadline for the calls made inside the block (scripts, tests)."""
    token = _deadline.set(clock() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def time_left(*, clock: Clock = time.monotonic) -> float | None:
    """Seconds until the current deadline (negative once passed); None: no deadline."""
    end = _deadline.get()
    return None if end is None else end - clock()


def deadline_passed(source: str, method: str, url: str) -> UpstreamTimeout:
    """The error of a call that would start after its request's deadline."""
    return UpstreamTimeout(
        source, "request deadline passed before the call", method=method, url=url
    )


# --- retries ---------------------------------------------------------------------------


def is_idempotent(method: str) -> bool:
    """Whether a call with this method may be sent again after a failure."""
    return method.upper() in IDEMPOTENT_METHODS


def backoff_delay(
    retry: int, base_s: float, cap_s: float, *, rand: Callable[[], float] = random.random
) -> float:
    """Full jitter: a uniform wait in [0, min(cap, base * 2**retry)).

    Jitter spreads the retries of many clients that failed together, so that they do
    not come back together and knock the upstream over again.
    """
    return rand() * min(cap_s, base_s * 2.0**retry)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date); None if absent
    or unreadable. A date in the past means no wait."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is unreadable
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# --- the circuit breaker ---------------------------------------------------------------


class BreakerState(Enum):
    """Whether calls to a source go through."""

    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class ErrorWindow:
    """Calls and failures over the last ``window_s`` seconds, in one-second buckets.

    Buckets keep the memory bounded however many calls a busy source takes.
    """

    def __init__(self, window_s: float = 60.0, *, clock: Clock = time.monotonic) -> None:
        self._window_s = window_s
        self._clock = clock
        self._buckets: deque[list[int]] = deque()  # [second, calls, failures]

    def record(self, failed: bool) -> None:
        second = int(self._clock())
        self._prune(second)
        if not self._buckets or self._buckets[-1][0] != second:
            self._buckets.append([second, 0, 0])
        bucket = self._buckets[-1]
        bucket[1] += 1
        bucket[2] += int(failed)

    def rate(self) -> float:
        """Failed calls / calls in the window; 0.0 when there were none."""
        self._prune(int(self._clock()))
        calls = sum(b[1] for b in self._buckets)
        return 0.0 if calls == 0 else sum(b[2] for b in self._buckets) / calls

    def _prune(self, second: int) -> None:
        while self._buckets and self._buckets[0][0] <= second - self._window_s:
            self._buckets.popleft()


class CircuitBreaker:
    """One source's breaker: closed, open after ``failures`` failed calls in a row, half-open
    (one probe call) ``reset_s`` after opening; the probe's outcome closes or re-opens it.

    Only failures of the source count (connection errors, timeouts, 5xx, 429): a 404 or
    a 422 is an answer, and proves the source is up.
    """

    def __init__(
        self,
        source: str,
        failures: int = 5,
        reset_s: float = 30.0,
        *,
        window_s: float = 60.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.source = source
        self._threshold = max(1, failures)
        self._reset_s = reset_s
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._consecutive = 0
        self._opened_at = 0.0
        self._probing = False
        self._window = ErrorWindow(window_s, clock=clock)

    @property
    def state(self) -> BreakerState:
        """The state now: an open breaker whose reset time has passed is half-open."""
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self._reset_s:
            self._state = BreakerState.HALF_OPEN
            self._probing = False
        return self._state

    @property
    def recent_error_rate(self) -> float:
        """The share of calls that failed over the last minute (0..1)."""
        return self._window.rate()

    def acquire(self) -> bool:
        """Let one call through, or raise ``UpstreamUnavailable`` without touching the network.

        Returns True when the call is the half-open probe, whose outcome decides the state.
        """
        state = self.state
        if state is BreakerState.CLOSED:
            return False
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        raise UpstreamUnavailable(
            self.source, "circuit breaker open: calls fail fast until the source recovers"
        )

    def record(self, probe: bool, failed: bool) -> None:
        """The outcome of a call ``acquire`` let through."""
        self._window.record(failed)
        if probe:
            self._probing = False
        if not failed:
            self._consecutive = 0
            if probe:
                self._state = BreakerState.CLOSED
            return
        self._consecutive += 1
        if probe or (self._state is BreakerState.CLOSED and self._consecutive >= self._threshold):
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()

    def release(self, probe: bool) -> None:
        """A call ended with no verdict on the source (cancelled, cut by the deadline)."""
        if probe:
            self._probing = False


class Breakers:
    """One breaker per source for a server process, created on first use."""

    def __init__(self, failures: int = 5, reset_s: float = 30.0) -> None:
        self._failures = failures
        self._reset_s = reset_s
        self._by_source: dict[str, CircuitBreaker] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Breakers:
        return cls(settings.breaker_failures, settings.breaker_reset_s)

    def get(self, source: str) -> CircuitBreaker:
        breaker = self._by_source.get(source)
        if breaker is None:
            breaker = CircuitBreaker(source, self._failures, self._reset_s)
            self._by_source[source] = breaker
        return breaker

    def find(self, source: str) -> CircuitBreaker | None:
        """The source's breaker if it has one (a source not configured has none)."""
        return self._by_source.get(source)


# The server's breakers, for the GraphQL request being served (``Query.sources``).
current_breakers: ContextVar[Breakers | None] = ContextVar("clubgraph_breakers", default=None)


# --- a source's call policy ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallPolicy:
    """How one source's calls are bounded and retried.

    The server builds it from ``Settings`` (``for_source``). The defaults are for a
    client built on its own (a script, a test of one connector): the same timeouts,
    but each call made once, so that what it sees is what the upstream answered.
    """

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    retries: int = 0
    retry_backoff_s: float = 0.1
    retry_max_delay_s: float = 2.0
    # None: the client makes its own breaker with the default thresholds.
    breaker: CircuitBreaker | None = None
    # Told of every call (spans, metrics); None: nothing is.
    telemetry: Telemetry | None = None

    @classmethod
    def for_source(
        cls,
        settings: Settings,
        source: SourceSettings,
        breaker: CircuitBreaker | None = None,
        telemetry: Telemetry | None = None,
    ) -> CallPolicy:
        """The policy of one configured source: its own timeouts where it has them."""
        return cls(
            connect_timeout_s=(
                settings.connect_timeout_s
                if source.connect_timeout_s is None
                else source.connect_timeout_s
            ),
            read_timeout_s=(
                settings.read_timeout_s if source.read_timeout_s is None else source.read_timeout_s
            ),
            retries=settings.retries,
            retry_backoff_s=settings.retry_backoff_s,
            retry_max_delay_s=settings.retry_max_delay_s,
            breaker=(
                CircuitBreaker(
                    source.source.value, settings.breaker_failures, settings.breaker_reset_s
                )
                if breaker is None
                else breaker
            ),
            telemetry=telemetry,
        )
