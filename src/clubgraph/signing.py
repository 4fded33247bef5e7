"""Webhook signatures: HMAC-SHA256 over the timestamp and the exact body bytes.

A platform that sends a webhook signs it with the secret it shares with the receiver:
``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``, in a header of its
own (FitnessForce ``X-UFP-Signature``, ClubCollect ``X-ClubCollect-Signature``; the
scheme is Stripe's, which the platforms' documentation does not describe: inferred).
The receiver recomputes it over the bytes it got, compares in constant time, and
refuses a timestamp outside its window, so that a captured delivery cannot be played
again later. Several secrets may verify (rotation: the old and the new one).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

VERSION = "v1"
# How far a signature's timestamp may be from the receiver's clock, either way.
DEFAULT_TOLERANCE_S = 300


class SignatureError(ValueError):
    """A webhook whose signature does not verify; ``str()`` says why, never the secret."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>." + body`` under ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},{VERSION}={sign(secret, timestamp, body)}"


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            if not value.isdigit() or len(value) > 12:
                raise SignatureError("the signature's timestamp is not a number of seconds")
            timestamp = int(value)
        elif name == VERSION and value:
            signatures.append(value)
    if timestamp is None:
        raise SignatureError("the signature has no timestamp")
    if not signatures:
        raise SignatureError(f"the signature has no {VERSION} value")
    return timestamp, signatures


def verify(
    secrets: Sequence[str],
    header: str | None,
    body: bytes,
    *,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> int:
    """The signed timestamp of a webhook whose signature one of ``secrets`` verifies;
    ``SignatureError`` otherwise (missing, malformed, stale or wrong)."""
    if not header:
        raise SignatureError("the webhook is not signed")
    if len(header) > 1024:
        raise SignatureError("the signature header is too long")
    timestamp, given = _parse(header)
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError(
            f"the signature's timestamp is {abs(now - timestamp):.0f} s from now, "
            f"outside the {tolerance_s:.0f} s window"
        )
    for secret in secrets:
        expected = sign(secret, timestamp, body)
        if any(hmac.compare_digest(expected, candidate) for candidate in given):
            return timestamp
    raise SignatureError("the signature does not match the body")
