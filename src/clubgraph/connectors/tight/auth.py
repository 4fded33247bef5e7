"""Tight's OAuth 2.0: obtain, refresh and re-obtain bearer tokens; read its error bodies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ...errors import SourceErrorDetail, UpstreamAuthError, UpstreamValidationError
from ...http import UpstreamHTTP, bearer
from .credentials import TightCredentials
from .types import TightToken

TOKEN_PATH = "/v5/auth/token"


class TightAuth:
    """Bearer tokens from ``POST /v5/auth/token``, renewed before they expire.

    An expired or refused token is renewed with its refresh token; when the refresh
    token is refused too, a new token is obtained with the client credentials.
    """

    def __init__(
        self, credentials: TightCredentials, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._credentials = credentials
        self._clock = clock
        self._lock = asyncio.Lock()
        self._access: str | None = None
        self._refresh: str | None = None
        self._expires_at = 0.0

    async def apply(
        self, http: UpstreamHTTP, headers: dict[str, str], params: dict[str, str | int]
    ) -> None:
        """Add the bearer token, obtaining or refreshing it first when needed."""
        headers["Authorization"] = f"Bearer {await self._token(http)}"

    def invalidate(self, refused: Mapping[str, str]) -> None:
        """Forget the refused access token; the refresh token is tried next."""
        if refused.get("Authorization") == bearer(self._access):
            self._access = None

    def _valid(self) -> str | None:
        if self._access is not None and self._clock() < self._expires_at:
            return self._access
        return None

    async def _token(self, http: UpstreamHTTP) -> str:
        token = self._valid()
        if token is not None:
            return token
        async with self._lock:
            token = self._valid()
            if token is not None:
                return token
            body: TightToken | None = None
            if self._refresh is not None:
                try:
                    body = await self._grant(http, "refresh_token", refresh_token=self._refresh)
                except (UpstreamAuthError, UpstreamValidationError):
                    self._refresh = None
            if body is None:
                extra = {"userId": self._credentials.user_id} if self._credentials.user_id else {}
                body = await self._grant(http, "client_credentials", **extra)
            return self._store(body)

    async def _grant(self, http: UpstreamHTTP, grant_type: str, **fields: str) -> TightToken:
        # The v5 reference documents a form-encoded body for the token endpoint.
        payload = {
            "client_id": self._credentials.client_id,
            "client_secret": self._credentials.client_secret,
            "grant_type": grant_type,
            **fields,
        }
        body: TightToken = await http.request("POST", TOKEN_PATH, form=payload, authenticate=False)
        return body

    def _store(self, body: TightToken) -> str:
        access = body.get("access_token")
        if not access:
            raise UpstreamAuthError("tight", "token response without access_token")
        lifetime = float(body.get("expires_in") or 0)
        # Renew a little early so a token does not expire in flight.
        self._expires_at = self._clock() + lifetime - min(30.0, lifetime / 10)
        self._access = access
        self._refresh = body.get("refresh_token") or self._refresh
        return access


def parse_errors(status: int, body: Any) -> Sequence[SourceErrorDetail]:
    """Tight's error codes: OAuth ``error`` bodies and ``errors`` field/global lists."""
    if not isinstance(body, dict):
        return ()
    if isinstance(body.get("error"), str):
        return (SourceErrorDetail(body["error"], str(body.get("error_description") or "")),)
    errors = body.get("errors")
    if not isinstance(errors, dict):
        return ()
    details = [
        SourceErrorDetail(str(e.get("type")), str(e.get("errorMessage") or ""))
        for e in errors.get("globalErrors") or ()
        if isinstance(e, dict)
    ]
    for field, items in (errors.get("fieldErrors") or {}).items():
        for e in items if isinstance(items, list) else [items]:
            if isinstance(e, dict):
                details.append(
                    SourceErrorDetail(str(e.get("type")), str(e.get("errorMessage") or ""), field)
                )
    return tuple(details)
