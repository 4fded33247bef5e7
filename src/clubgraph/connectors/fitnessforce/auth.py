"""UFP bearer-token authentication for the shared HTTP client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from ...errors import SourceErrorDetail, UpstreamAuthError
from ...http import UpstreamHTTP, bearer
from .credentials import FitnessForceCredentials

# Renew a little before the upstream's expiry so that a token never dies in flight.
_SKEW_S = 30.0


class FitnessForceAuth:
    """Generates a token lazily, refreshes it when it expires, regenerates on refusal."""

    def __init__(self, credentials: FitnessForceCredentials) -> None:
        self._credentials = credentials
        self._access: str | None = None
        self._refresh: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def apply(
        self, http: UpstreamHTTP, headers: dict[str, str], params: dict[str, str | int]
    ) -> None:
        """Set ``Authorization: Bearer`` with a live token."""
        if self._access is None or time.monotonic() >= self._expires_at:
            # One renewal for all concurrent callers: the lock holder renews, the rest reuse.
            async with self._lock:
                if self._access is None or time.monotonic() >= self._expires_at:
                    await self._renew(http)
        headers["Authorization"] = f"Bearer {self._access}"

    def invalidate(self, refused: Mapping[str, str]) -> None:
        """Drop the refused access token; the refresh token is tried next."""
        if refused.get("Authorization") == bearer(self._access):
            self._access = None

    async def _renew(self, http: UpstreamHTTP) -> None:
        if self._refresh is not None:
            try:
                body = await http.request(
                    "POST",
                    "/authentication/refresh_token",
                    json={"refresh_token": self._refresh},
                    authenticate=False,
                )
            except UpstreamAuthError:
                self._refresh = None
            else:
                self._store(body)
                return
        body = await http.request(
            "POST",
            "/authentication/token",
            json={"username": self._credentials.username, "password": self._credentials.password},
            authenticate=False,
        )
        self._store(body)

    def _store(self, body: Any) -> None:
        self._access = body["access_token"]
        self._refresh = body.get("refresh_token")
        self._expires_at = time.monotonic() + float(body.get("expires_in", 3600)) - _SKEW_S


def parse_errors(status: int, body: Any) -> list[SourceErrorDetail]:
    """UFP ValidationError objects from an error body, as SourceErrorDetails."""
    errors: Any = body.get("errors") if isinstance(body, dict) else body
    if isinstance(errors, dict):
        errors = [errors]
    if not isinstance(errors, list):
        return []
    return [
        SourceErrorDetail(
            code=str(e.get("errorCode") or "Unknown"),
            message=str(e.get("errorMessage") or ""),
            field=e.get("identifier"),
        )
        for e in errors
        if isinstance(e, dict)
    ]
