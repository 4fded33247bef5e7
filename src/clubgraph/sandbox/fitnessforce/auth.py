"""UFP token authentication: generate, refresh, and the bearer check on every call."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from aiohttp import web

from ...connectors.fitnessforce.credentials import DEV_CREDENTIALS
from ..core import Handler, json_response
from .responses import UfpError, error_response, json_body, validation_error

TOKENS: web.AppKey[TokenStore] = web.AppKey("fitnessforce_tokens")


@dataclass(slots=True)
class TokenStore:
    """Issued access and refresh tokens with their expiry (monotonic seconds)."""

    token_ttl_s: float = 3600
    refresh_ttl_s: float = 86400
    access: dict[str, float] = field(default_factory=dict)
    refresh: dict[str, float] = field(default_factory=dict)

    def issue(self) -> dict[str, object]:
        now = time.monotonic()
        access = "ffat_" + secrets.token_urlsafe(24)
        refresh = "ffrt_" + secrets.token_urlsafe(24)
        self.access[access] = now + self.token_ttl_s
        self.refresh[refresh] = now + self.refresh_ttl_s
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(self.token_ttl_s),
            "refresh_token": refresh,
        }

    def access_error(self, token: str) -> str | None:
        """The UFP error code refusing ``token``, or None when it is valid."""
        expiry = self.access.get(token)
        if expiry is None:
            return "InvalidToken"
        return "TokenExpired" if expiry <= time.monotonic() else None

    def expire_all(self) -> None:
        """Age every access token past its expiry (refresh tokens stay valid)."""
        self.access = dict.fromkeys(self.access, 0.0)


async def generate_token(request: web.Request) -> web.Response:
    # inferred: POST /authentication/token with a JSON body {username, password}.
    body = await json_body(request)
    if not isinstance(body, dict) or not body.get("username") or not body.get("password"):
        raise UfpError(400, "FieldRequired", "username and password are required", "username")
    if (body["username"], body["password"]) != (DEV_CREDENTIALS.username, DEV_CREDENTIALS.password):
        raise UfpError(401, "InvalidCredentials", "username or password is incorrect")
    return json_response(request.app[TOKENS].issue())


async def refresh_token(request: web.Request) -> web.Response:
    # inferred: POST /authentication/refresh_token with {refresh_token}; rotates both tokens.
    body = await json_body(request)
    token = body.get("refresh_token") if isinstance(body, dict) else None
    store = request.app[TOKENS]
    expiry = store.refresh.pop(token, None) if isinstance(token, str) else None
    if expiry is None or expiry <= time.monotonic():
        raise UfpError(401, "InvalidRefreshToken", "refresh token is invalid or expired")
    return json_response(store.issue())


async def expire_tokens(request: web.Request) -> web.Response:
    """Sandbox control: expire every access token, to exercise refresh."""
    request.app[TOKENS].expire_all()
    return web.Response(status=204)


@web.middleware
async def bearer(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse calls without a valid bearer token, and render UfpError refusals."""
    try:
        if not request.path.startswith(("/authentication/", "/__sandbox/")):
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            code = "MissingToken" if scheme.lower() != "bearer" or not token else None
            code = code or request.app[TOKENS].access_error(token.strip())
            if code is not None:
                return error_response(
                    401,
                    [validation_error(code, "authentication token is missing, invalid or expired")],
                    headers={"WWW-Authenticate": f'Bearer error="invalid_token", code="{code}"'},
                )
        return await handler(request)
    except UfpError as exc:
        return error_response(exc.status, exc.errors)
