"""TimeTap API keys: one (apiKey, privateKey) pair per business."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ApiKeyPair:
    """The keys TimeTap issues for one business; the private key only signs."""

    api_key: str
    private_key: str


@dataclass(frozen=True, slots=True)
class TimeTapCredentials:
    """The API keys of every business clubgraph reads.

    Read from ``CLUBGRAPH_TIMETAP_API_KEYS``: comma-separated ``apiKey:privateKey``
    pairs, one per business (each key belongs to exactly one business).
    """

    keys: tuple[ApiKeyPair, ...]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TimeTapCredentials | None:
        """Credentials from ``CLUBGRAPH_TIMETAP_API_KEYS``, or None when it is unset."""
        value = env.get("CLUBGRAPH_TIMETAP_API_KEYS", "").strip()
        if not value:
            return None
        pairs: list[ApiKeyPair] = []
        for part in value.split(","):
            api_key, sep, private_key = part.strip().partition(":")
            if not sep or not api_key or not private_key:
                raise ValueError(
                    "CLUBGRAPH_TIMETAP_API_KEYS must be comma-separated apiKey:privateKey pairs"
                )
            pairs.append(ApiKeyPair(api_key, private_key))
        return cls(tuple(pairs))


# The keys of the sandbox's two businesses (50101 and 50102, in this order).
DEV_CREDENTIALS = TimeTapCredentials(
    (
        ApiKeyPair("tt-dev-50101-4f1c", "pk-50101-9a7e3d21c6b84f05"),
        ApiKeyPair("tt-dev-50102-b83a", "pk-50102-2c5f8e17a9d04b63"),
    )
)
