"""OAuth 2.0 for the Tight sandbox: the token endpoint and the bearer check."""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from ...connectors.tight.credentials import DEV_CREDENTIALS
from ..core import json_response
from .replies import oauth_error
from .state import STATE

PARTNER_USER = "partner"


async def _token_params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/x-www-form-urlencoded":
        return dict(await request.post())
    # inferred: a JSON body is accepted as well as the documented form body.
    raw = await request.read()
    try:
        body = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise oauth_error(400, "invalid_request", "Body must be form-encoded or a JSON object")
    return body


async def token(request: web.Request) -> web.Response:
    """POST /v5/auth/token: client_credentials and refresh_token grants."""
    store = request.app[STATE].tokens
    params = await _token_params(request)
    if (params.get("client_id"), params.get("client_secret")) != (
        DEV_CREDENTIALS.client_id,
        DEV_CREDENTIALS.client_secret,
    ):
        raise oauth_error(401, "invalid_client", "Bad client credentials")
    grant = params.get("grant_type")
    if grant == "client_credentials":
        issued = store.issue(str(params.get("userId") or PARTNER_USER))
    elif grant == "refresh_token":
        refresh = str(params.get("refresh_token") or "")
        user_id = store.refresh.get(refresh)
        if user_id is None:
            raise oauth_error(400, "invalid_grant", f"Invalid refresh token: {refresh[:12]}")
        issued = store.issue(user_id, refresh)
    elif grant == "authorization_code":
        # inferred: the sandbox has no login page, so no code can be valid.
        raise oauth_error(400, "invalid_grant", "Invalid authorization code")
    else:
        raise oauth_error(400, "unsupported_grant_type", f"Unsupported grant type: {grant}")
    return json_response(
        {
            "access_token": issued.access_token,
            "refresh_token": issued.refresh_token,
            "token_type": "bearer",
            "expires_in": store.ttl_s,
            "created_at": int(time.time()),
            "scope": "token",
        }
    )


def require_token(request: web.Request) -> None:
    """Refuse the request unless it carries a live bearer token."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise oauth_error(
            401, "unauthorized", "Full authentication is required to access this resource"
        )
    problem = request.app[STATE].tokens.check(value.strip())
    if problem is not None:
        raise oauth_error(401, "invalid_token", problem)


async def expire_tokens(request: web.Request) -> web.Response:
    """POST /__sandbox/tokens/expire: expire every access token (for refresh tests)."""
    request.app[STATE].tokens.expire_all()
    return web.Response(status=204)
