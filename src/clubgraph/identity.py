"""Who is calling: bearer tokens (JWT) verified into a ``Principal``, and what it may see.

Tokens are signed with HS256 (a shared secret), RS256 or ES256 (public keys from PEM
files or a JWKS file, chosen by ``kid``). Only those three algorithms are accepted, and
each key only with the algorithm of its type: ``alg: none`` and a token signed with a
public key used as an HMAC secret are refused.

Claims:

- ``sub``: who the caller is (required), ``exp`` (required), ``nbf``, ``iss``, ``aud``.
- ``role``: ``staff``, ``member`` or ``service``.
- ``tenants`` (staff, service): the tenants the caller may see, a list of
  ``"<source>:<tenant>"`` (``"fitnessforce:101"``), ``"<source>:*"`` for every tenant of
  a source, or ``"*"`` for every tenant of every source.
- ``clients`` (member): the clubgraph global IDs of the clients the caller is.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from . import ids
from .domain import EntityType, Key, Source
from .settings import Settings, SettingsError

ALGORITHMS = ("HS256", "RS256", "ES256")
# Clocks of issuer and server may differ by this many seconds (exp, nbf, iat).
LEEWAY_S = 30
# RFC 7518 3.2: an HS256 key as long as the hash; NIST: RSA keys of 2048 bits or more.
MIN_SECRET_BYTES = 32
MIN_RSA_BITS = 2048
ALL = "*"
_SOURCES = frozenset(s.value for s in Source)


class Role(StrEnum):
    """What kind of caller: club staff, a member (end customer), another service."""

    STAFF = "staff"
    MEMBER = "member"
    SERVICE = "service"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller and what it may see.

    Staff and services see whole tenants (``tenants``); a member sees the clients it is
    (``clients``) and their records, and the invoices it was granted (``invoices``:
    each opened by a client invoice key it holds, ``invoice_keys``). Items are seen
    with their invoice.
    """

    role: Role
    subject: str
    # "<source>:<tenant>", "<source>:*" or "*".
    tenants: frozenset[str] = frozenset()
    clients: frozenset[Key] = frozenset()
    # Client invoice keys authorize reading one invoice each: credentials, never shown.
    invoice_keys: frozenset[str] = field(default=frozenset(), repr=False)
    # The invoices those keys opened (granted during a request; not part of the scope).
    invoices: frozenset[Key] = field(default=frozenset(), compare=False)
    # Keys caches and idempotency keys: one caller's entries never answer another's.
    scope: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        identity = [
            self.role.value,
            self.subject,
            sorted(self.tenants),
            sorted(ids.encode(k) for k in self.clients),
            sorted(self.invoice_keys),
        ]
        digest = hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:32]
        object.__setattr__(self, "scope", f"{self.role.value}:{digest}")

    @property
    def is_member(self) -> bool:
        return self.role is Role.MEMBER

    @property
    def sees_every_tenant(self) -> bool:
        """Whether nothing is hidden from this caller (lists need no filter)."""
        return not self.is_member and ALL in self.tenants

    def may_see_tenant(self, source: Source | str, tenant: str) -> bool:
        """Whether the caller sees a whole tenant (a member sees none as a whole)."""
        if self.is_member:
            return False
        name = source.value if isinstance(source, Source) else source
        wanted = (ALL, f"{name}:{ALL}", f"{name}:{tenant}")
        return any(t in self.tenants for t in wanted)

    def tenants_of(self, source: Source) -> frozenset[str] | None:
        """The tenants of ``source`` the caller sees whole: None for all of them, empty
        for none (a member sees no tenant whole)."""
        if self.is_member:
            return frozenset()
        if ALL in self.tenants or f"{source.value}:{ALL}" in self.tenants:
            return None
        prefix = f"{source.value}:"
        return frozenset(t[len(prefix) :] for t in self.tenants if t.startswith(prefix))

    def may_see_client(self, key: Key) -> bool:
        """Whether the caller sees this client (and so its invoices and subscriptions)."""
        if self.is_member:
            return key in self.clients
        return self.may_see_tenant(key.source, key.tenant)

    def may_see_invoice(self, key: Key, client_key: Key | None = None) -> bool:
        """Whether the caller sees this invoice (of this client) and its items."""
        if key in self.invoices:
            return True
        if self.is_member:
            return client_key is not None and client_key in self.clients
        return self.may_see_tenant(key.source, key.tenant)

    def may_see_subscription(self, key: Key, client_key: Key | None = None) -> bool:
        """Whether the caller sees this subscription (of this client)."""
        if self.is_member:
            return client_key is not None and client_key in self.clients
        return self.may_see_tenant(key.source, key.tenant)

    def with_invoice(self, key: Key) -> Principal:
        """The same caller, also granted one invoice (opened by its client invoice key)."""
        return self if key in self.invoices else replace(self, invoices=self.invoices | {key})

    @classmethod
    def invoice_key_holder(cls, keys: Iterable[str]) -> Principal:
        """A caller known only by client invoice keys: it sees the invoices they open."""
        return cls(Role.MEMBER, "invoice-key", invoice_keys=frozenset(keys))


# Anonymous callers in sandbox mode: every tenant of every source.
DEMO_STAFF = Principal(Role.STAFF, "demo-staff", frozenset({ALL}))
# An unauthenticated caller that sees nothing (until admitted by invoice keys).
ANONYMOUS = Principal(Role.MEMBER, "anonymous")


class ClaimsError(ValueError):
    """A token's claims do not describe a caller (never quotes their values)."""


def _strings(value: object, name: str) -> list[str]:
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise ClaimsError(f"the {name} claim must be a list of strings")


def parse_tenants(value: object) -> frozenset[str]:
    """The ``tenants`` claim: ``"*"`` or ``"<source>:<tenant>"`` strings."""
    out: set[str] = set()
    for entry in _strings(value, "tenants"):
        if entry == ALL:
            out.add(ALL)
            continue
        source, sep, tenant = entry.partition(":")
        if not sep or source not in _SOURCES or not tenant.strip():
            raise ClaimsError(
                'each tenant must be "*" or "<source>:<tenant>" with a source among '
                + ", ".join(sorted(_SOURCES))
            )
        out.add(f"{source}:{tenant.strip()}")
    return frozenset(out)


def parse_clients(value: object) -> frozenset[Key]:
    """The ``clients`` claim: clubgraph global IDs of clients."""
    try:
        return frozenset(ids.decode(v, EntityType.CLIENT) for v in _strings(value, "clients"))
    except ids.InvalidGlobalId:
        raise ClaimsError("the clients claim holds a value that is not a client ID") from None


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """The caller a verified token describes."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise ClaimsError("the sub claim must be a non-empty string")
    try:
        role = Role(str(claims.get("role", "")).lower())
    except ValueError:
        raise ClaimsError("the role claim must be one of staff, member, service") from None
    if role is Role.MEMBER:
        clients = parse_clients(claims.get("clients", []))
        if not clients:
            raise ClaimsError("a member token needs a clients claim")
        return Principal(role, subject, clients=clients)
    tenants = parse_tenants(claims.get("tenants", []))
    if not tenants:
        raise ClaimsError(f"a {role.value} token needs a tenants claim")
    return Principal(role, subject, tenants=tenants)


class Unauthenticated(Exception):
    """The request carries no usable credentials: answered with 401."""

    def __init__(self, message: str, *, invalid_token: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.invalid_token = invalid_token

    def body(self) -> dict[str, Any]:
        """The GraphQL-shaped error body of the 401 response."""
        error = {"message": self.message, "extensions": {"code": "UNAUTHENTICATED"}}
        return {"errors": [error]}

    def challenge(self) -> str:
        """The ``WWW-Authenticate`` header (RFC 6750)."""
        error = ', error="invalid_token"' if self.invalid_token else ""
        return f'Bearer realm="clubgraph"{error}'


AUTH_REQUIRED = "authentication required: send Authorization: Bearer <token>"


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A key that verifies tokens of exactly one algorithm."""

    key: Any = field(repr=False)
    algorithm: str
    kid: str | None = None
    origin: str = ""


def algorithm_of(key: object, origin: str) -> str:
    """The one algorithm a public key verifies (RS256 or ES256)."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise SettingsError(f"{origin}: an RSA key needs {MIN_RSA_BITS} bits or more")
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise SettingsError(f"{origin}: only RSA and P-256 public keys are accepted")


def _pem_key(path: str) -> VerificationKey:
    origin = f"CLUBGRAPH_JWT_PUBLIC_KEYS: {path}"
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SettingsError(f"{origin}: {exc.strerror}") from None
    try:
        key: Any = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = x509.load_pem_x509_certificate(data).public_key()
        except ValueError:
            raise SettingsError(f"{origin} is not a PEM public key or certificate") from None
    return VerificationKey(key, algorithm_of(key, origin), None, origin)


def _jwks_keys(path: str) -> list[VerificationKey]:
    origin = f"CLUBGRAPH_JWKS_FILE: {path}"
    try:
        document = json.loads(Path(path).read_text())
    except OSError as exc:
        raise SettingsError(f"{origin}: {exc.strerror}") from None
    except ValueError:
        raise SettingsError(f"{origin} is not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise SettingsError(f'{origin} has no "keys" list')
    out: list[VerificationKey] = []
    for i, jwk in enumerate(entries):
        where = f"{origin} key {i}"
        if not isinstance(jwk, dict) or jwk.get("kty") not in ("RSA", "EC") or "d" in jwk:
            raise SettingsError(f"{where}: only public RSA and EC keys are accepted")
        if not isinstance(jwk.get("kid"), str) or jwk.get("use", "sig") != "sig":
            raise SettingsError(f'{where}: needs a "kid" and may only be used to sign')
        try:
            key = jwt.PyJWK(jwk).key
        except jwt.PyJWTError:
            raise SettingsError(f"{where} is not a valid key") from None
        algorithm = algorithm_of(key, where)
        if jwk.get("alg", algorithm) != algorithm:
            raise SettingsError(f'{where}: "alg" does not fit the key type')
        out.append(VerificationKey(key, algorithm, jwk["kid"], where))
    return out


def load_keys(settings: Settings) -> list[VerificationKey]:
    """Every key the settings configure; loud when one is missing or unfit."""
    keys: list[VerificationKey] = []
    if settings.jwt_secret is not None:
        if len(settings.jwt_secret.encode()) < MIN_SECRET_BYTES:
            raise SettingsError(f"CLUBGRAPH_JWT_SECRET needs {MIN_SECRET_BYTES} bytes or more")
        keys.append(VerificationKey(settings.jwt_secret, "HS256", None, "CLUBGRAPH_JWT_SECRET"))
    keys.extend(_pem_key(p) for p in settings.jwt_public_keys)
    if settings.jwks_file:
        keys.extend(_jwks_keys(settings.jwks_file))
    return keys


_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet (nbf or iat in the future)"),
    (jwt.InvalidIssuerError, "the token's issuer (iss) is not accepted"),
    (jwt.InvalidSignatureError, "the token's signature is invalid"),
    (jwt.InvalidAlgorithmError, "the token's algorithm does not fit its key"),
    (jwt.DecodeError, "the token is malformed"),
)


def _reason(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"the token has no {exc.claim} claim"
    return next((text for kind, text in _REASONS if isinstance(exc, kind)), "invalid token")


class Authenticator:
    """Turns an ``Authorization`` header into a ``Principal`` (or refuses it)."""

    def __init__(
        self,
        keys: Sequence[VerificationKey],
        *,
        issuer: str | None = None,
        audience: str | None = None,
        anonymous: Principal | None = None,
    ) -> None:
        self.keys = tuple(keys)
        self.issuer = issuer
        self.audience = audience
        # Who a request without credentials acts as (None: it must authenticate).
        self.anonymous = anonymous

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        anonymous = DEMO_STAFF if settings.sandbox_mode and not settings.require_auth else None
        return cls(
            load_keys(settings),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            anonymous=anonymous,
        )

    def authenticate(self, authorization: str | None) -> Principal | None:
        """The caller; None when there are no credentials and no anonymous caller."""
        if authorization is None or not authorization.strip():
            return self.anonymous
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the Authorization header must be: Bearer <token>")
        return self.verify(token.strip())

    def verify(self, token: str) -> Principal:
        """The caller a token names; ``Unauthenticated`` says what is wrong with it."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("the token is malformed") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            shown = "none" if str(algorithm).lower() == "none" else "this algorithm"
            raise Unauthenticated(f"tokens signed with {shown} are not accepted")
        candidates = [k for k in self.keys if k.algorithm == algorithm]
        if not candidates:
            raise Unauthenticated(f"no key configured here verifies {algorithm} tokens")
        kid = header.get("kid")
        if kid is not None:
            # A key of the JWKS by its id; a PEM key has none and verifies any.
            candidates = [k for k in candidates if k.kid == kid] or [
                k for k in candidates if k.kid is None
            ]
            if not candidates:
                raise Unauthenticated("the token's key id (kid) names no configured key")
        for key in candidates:
            try:
                claims = jwt.decode(
                    token,
                    key.key,
                    algorithms=[key.algorithm],
                    issuer=self.issuer,
                    audience=self.audience,
                    leeway=LEEWAY_S,
                    options={"require": self._required(), "enforce_minimum_key_length": True},
                )
            except jwt.InvalidSignatureError:
                continue
            except jwt.InvalidAudienceError:
                if self.audience is None:
                    raise Unauthenticated(
                        "the token names an audience (aud) and this server has none: "
                        "set CLUBGRAPH_JWT_AUDIENCE"
                    ) from None
                raise Unauthenticated("the token's audience (aud) is not accepted") from None
            except jwt.PyJWTError as exc:
                raise Unauthenticated(_reason(exc)) from None
            try:
                return principal_from_claims(claims)
            except ClaimsError as exc:
                raise Unauthenticated(f"the token's claims are invalid: {exc}") from None
        raise Unauthenticated("the token's signature is invalid")

    def _required(self) -> list[str]:
        return [
            "exp",
            "sub",
            *(["iss"] if self.issuer else []),
            *(["aud"] if self.audience else []),
        ]


def mint(
    secret: str,
    *,
    role: Role,
    subject: str,
    tenants: Iterable[str] = (),
    clients: Iterable[str] = (),
    ttl_s: int = 3600,
    issuer: str | None = None,
    audience: str | None = None,
    now: float | None = None,
) -> str:
    """An HS256 token for development (``clubgraph token``); its claims are checked."""
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ClaimsError(f"the secret needs {MIN_SECRET_BYTES} bytes or more")
    if ttl_s <= 0:
        raise ClaimsError("the token's lifetime (ttl) must be positive")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {"sub": subject, "role": role.value, "iat": issued}
    claims["exp"] = issued + ttl_s
    if role is Role.MEMBER:
        claims["clients"] = sorted(set(clients))
    else:
        claims["tenants"] = sorted(set(tenants))
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    principal_from_claims(claims)
    return jwt.encode(claims, secret, algorithm="HS256")
