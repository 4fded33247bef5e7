"""The mutable world one Tight sandbox serves: one business, its clients, invoices, tokens."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(slots=True)
class Token:
    """An issued access token and the refresh token that can renew it."""

    access_token: str
    refresh_token: str
    expires_at: float


@dataclass(slots=True)
class TokenStore:
    """Access and refresh tokens the authorization server has issued."""

    ttl_s: int = 3600
    access: dict[str, Token] = field(default_factory=dict)
    refresh: dict[str, str] = field(default_factory=dict)  # refresh token -> user id

    def issue(self, user_id: str, refresh_token: str | None = None) -> Token:
        """A new access token; a refresh keeps its refresh token (it is reused)."""
        token = Token(
            access_token=f"{secrets.token_hex(32)}.{secrets.token_hex(16)}",
            refresh_token=refresh_token or f"{secrets.token_hex(32)}.{secrets.token_hex(16)}",
            expires_at=time.time() + self.ttl_s,
        )
        self.access[token.access_token] = token
        self.refresh[token.refresh_token] = user_id
        return token

    def check(self, access_token: str) -> str | None:
        """None when the token is valid, else the OAuth error description."""
        token = self.access.get(access_token)
        if token is None:
            return f"Invalid access token: {access_token[:12]}..."
        if token.expires_at <= time.time():
            return f"Access token expired: {access_token[:12]}..."
        return None

    def expire_all(self) -> None:
        """Expire every access token (refresh tokens stay valid)."""
        for token in self.access.values():
            token.expires_at = 0.0


@dataclass(slots=True)
class TightState:
    """Everything a write can change, keyed by Tight's integer ids."""

    business: dict[str, Any]
    clients: dict[int, dict[str, Any]]
    invoices: dict[int, dict[str, Any]]
    next_client_id: int
    next_invoice_id: int
    next_invoice_no: int
    next_line_id: int
    tokens: TokenStore = field(default_factory=TokenStore)

    def by_client_key(self, key: str) -> dict[str, Any] | None:
        """The invoice a client invoice key opens (drafts have no client view)."""
        for invoice in self.invoices.values():
            if invoice["clientInvoiceKey"] == key and invoice["status"] != "DRAFT":
                return invoice
        return None


STATE: web.AppKey[TightState] = web.AppKey("tight_state", TightState)
