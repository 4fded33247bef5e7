"""How clubgraph authenticates to Tight: an OAuth 2.0 client (partner) id and secret."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TightCredentials:
    """The OAuth 2.0 client a Tight partner is issued, optionally scoped to one user."""

    client_id: str
    client_secret: str
    user_id: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TightCredentials | None:
        """Read ``CLUBGRAPH_TIGHT_CLIENT_ID`` and ``CLUBGRAPH_TIGHT_CLIENT_SECRET``.

        ``CLUBGRAPH_TIGHT_USER_ID`` (optional) asks for a token scoped to one Tight
        user; without it the token is partner-level. Returns None when the id and
        secret are both absent, and raises when only one of them is set.
        """
        client_id = env.get("CLUBGRAPH_TIGHT_CLIENT_ID", "").strip()
        client_secret = env.get("CLUBGRAPH_TIGHT_CLIENT_SECRET", "").strip()
        if not client_id and not client_secret:
            return None
        if not client_id or not client_secret:
            raise ValueError(
                "CLUBGRAPH_TIGHT_CLIENT_ID and CLUBGRAPH_TIGHT_CLIENT_SECRET must be set together"
            )
        user_id = env.get("CLUBGRAPH_TIGHT_USER_ID", "").strip() or None
        return cls(client_id, client_secret, user_id)


# The partner client the sandbox accepts.
DEV_CREDENTIALS = TightCredentials(
    client_id="clubgraph-dev", client_secret="tight-sandbox-secret-7001"
)
