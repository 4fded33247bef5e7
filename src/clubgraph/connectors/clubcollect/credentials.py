"""ClubCollect partner credentials: one API key, optionally pinned to some companies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClubCollectCredentials:
    """A partner API key, sent as ``Authorization: ApiKey <api_key>``.

    Read from the environment by ``from_env``:

    - ``CLUBGRAPH_CLUBCOLLECT_API_KEY`` (required): the partner API key.
    - ``CLUBGRAPH_CLUBCOLLECT_COMPANY_IDS`` (optional): comma-separated company ids to
      serve; when absent the companies are discovered from the API.
    """

    api_key: str
    company_ids: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ClubCollectCredentials | None:
        """Credentials from ``CLUBGRAPH_CLUBCOLLECT_*``, or None when no key is set."""
        key = env.get("CLUBGRAPH_CLUBCOLLECT_API_KEY", "").strip()
        if not key:
            return None
        ids = env.get("CLUBGRAPH_CLUBCOLLECT_COMPANY_IDS", "")
        return cls(key, tuple(i.strip() for i in ids.split(",") if i.strip()))


# The partner key the sandbox accepts.
DEV_CREDENTIALS = ClubCollectCredentials(api_key="cc_sandbox_partner_9f3b7c2e41d8")

# The secret the sandbox signs its notifications with, and the receiver verifies them
# with when no CLUBGRAPH_CLUBCOLLECT_WEBHOOK_SECRET is set (development only).
DEV_WEBHOOK_SECRET = "cc-sandbox-webhook-secret-5e83a1c09f4d27b6"
