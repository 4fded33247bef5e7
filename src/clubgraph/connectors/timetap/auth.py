"""TimeTap session tokens: one per API key (that is, per business), fetched on demand.

``GET /sessionToken?apiKey&timestamp&signature`` (signature: MD5 hex of apiKey +
privateKey) answers a token that then goes in the Authorization header. Tokens
expire without notice; a 401 drops the token and the call is replayed with a new one.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from typing import Any

from ...errors import SourceErrorDetail, UpstreamBadResponse
from ...http import UpstreamHTTP
from .credentials import ApiKeyPair, TimeTapCredentials

# Which API key a request is for; read and removed by ``TimeTapAuth.apply``, since
# one pooled client serves every business.
KEY_HEADER = "X-Clubgraph-TimeTap-Key"


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


class TimeTapAuth:
    """Session tokens for each configured API key."""

    def __init__(
        self, credentials: TimeTapCredentials, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._keys = credentials.keys
        self._clock = clock
        self._tokens: dict[int, str] = {}
        self._locks = [asyncio.Lock() for _ in self._keys]

    async def token(self, http: UpstreamHTTP, index: int) -> str:
        """The session token of API key ``index``, fetched once and reused."""
        if index in self._tokens:
            return self._tokens[index]
        async with self._locks[index]:
            if index not in self._tokens:
                pair = self._keys[index]
                body = await http.request(
                    "GET",
                    "/sessionToken",
                    params={
                        "apiKey": pair.api_key,
                        "timestamp": int(self._clock()),
                        "signature": signature(pair),
                    },
                    authenticate=False,
                )
                token = body.get("sessionToken") if isinstance(body, dict) else None
                if not isinstance(token, str):
                    raise UpstreamBadResponse("timetap", "sessionToken missing from response")
                self._tokens[index] = token
        return self._tokens[index]

    async def apply(
        self, http: UpstreamHTTP, headers: dict[str, str], params: dict[str, str | int]
    ) -> None:
        """Authorize a request for the API key named in ``KEY_HEADER`` (default: the first)."""
        index = int(headers.pop(KEY_HEADER, "0"))
        headers["Authorization"] = f"Bearer {await self.token(http, index)}"

    def invalidate(self) -> None:
        """Forget every token."""
        self._tokens.clear()

    def invalidate_key(self, index: int) -> None:
        """Forget the token of one API key after TimeTap refused it."""
        self._tokens.pop(index, None)
