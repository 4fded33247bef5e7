"""Credentials for the FitnessForce UFP API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FitnessForceCredentials:
    """An API user's username and password, exchanged for a bearer token.

    Read from ``CLUBGRAPH_FITNESSFORCE_USERNAME`` and ``CLUBGRAPH_FITNESSFORCE_PASSWORD``.
    """

    username: str
    password: str = field(repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FitnessForceCredentials | None:
        """Credentials from the environment, or None when they are not configured."""
        username = env.get("CLUBGRAPH_FITNESSFORCE_USERNAME", "").strip()
        password = env.get("CLUBGRAPH_FITNESSFORCE_PASSWORD", "")
        if not username and not password:
            return None
        if not username or not password:
            raise ValueError(
                "CLUBGRAPH_FITNESSFORCE_USERNAME and CLUBGRAPH_FITNESSFORCE_PASSWORD "
                "must be set together"
            )
        return cls(username, password)


# The API user the sandbox server accepts.
DEV_CREDENTIALS = FitnessForceCredentials(username="sandbox", password="sandbox-secret")

# The secret the sandbox signs its webhooks with, and the receiver verifies them with
# when no CLUBGRAPH_FITNESSFORCE_WEBHOOK_SECRET is set (development only).
DEV_WEBHOOK_SECRET = "ufp-sandbox-webhook-secret-0b9e4d2a7c61f385"
