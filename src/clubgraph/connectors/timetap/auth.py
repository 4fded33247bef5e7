"""TimeTap session tokens: one per API key (that is, per business), fetched on demand.

``GET /sessionToken?apiKey&timestamp&signature`` (signature: MD5 hex of apiKey +
privateKey) answers a token that then goes in the Authorization header. Tokens
expire without notice; a 401 drops the token and the call is replayed with a new one.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import SourceErrorDetail, UpstreamBadResponse
from ...http import UpstreamHTTP, bearer
from .credentials import ApiKeyPair, TimeTapCredentials


def signature(pair: ApiKeyPair) -> str:
    """The sessionToken signature of an API key pair."""
    return hashlib.md5((pair.api_key + pair.private_key).encode()).hexdigest()


def parse_errors(status: int, body: Any) -> list[SourceErrorDetail]:
    """TimeTap's ``{"errors": [{"errorCode", "errorMessage", "fieldName"}]}``."""
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return []
    return [
        SourceErrorDetail(
            code=str(e.get("errorCode") or status),
            message=str(e.get("errorMessage") or ""),
            field=e.get("fieldName"),
        )
        for e in body["errors"]
        if isinstance(e, dict)
    ]


class TimeTapKeyAuth:
    """The session token of one API key (one business), fetched on demand."""

    def __init__(self, pair: ApiKeyPair, *, clock: Callable[[], float] = time.time) -> None:
        self._pair = pair
        self._clock = clock
        self._token: str | None = None
        self._lock = asyncio.Lock()

    async def token(self, http: UpstreamHTTP) -> str:
        """The session token, fetched once and reused until TimeTap refuses it."""
        if self._token is not None:
            return self._token
        async with self._lock:
            if self._token is None:
                body = await http.request(
                    "GET",
                    "/sessionToken",
                    params={
                        "apiKey": self._pair.api_key,
                        "timestamp": int(self._clock()),
                        "signature": signature(self._pair),
                    },
                    authenticate=False,
                )
                token = body.get("sessionToken") if isinstance(body, dict) else None
                if not isinstance(token, str):
                    raise UpstreamBadResponse("timetap", "sessionToken missing from response")
                self._token = token
            return self._token

    async def apply(
        self, http: UpstreamHTTP, headers: dict[str, str], params: dict[str, str | int]
    ) -> None:
        headers["Authorization"] = f"Bearer {await self.token(http)}"

    def invalidate(self, refused: Mapping[str, str]) -> None:
        """Forget the token if it is the one TimeTap refused."""
        if refused.get("Authorization") == bearer(self._token):
            self._token = None


def key_auths(credentials: TimeTapCredentials) -> list[TimeTapKeyAuth]:
    """One authenticator per configured API key, in configuration order."""
    return [TimeTapKeyAuth(pair) for pair in credentials.keys]
