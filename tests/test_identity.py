"""Who may call: JWT bearer tokens over real HTTP, the sandbox demo user, the principal's
scope and what it may see, ``clubgraph token``, and ``invoiceByKey`` without a token."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from clubgraph import ids
from clubgraph.domain import EntityType, Key, Source
from clubgraph.identity import (
    DEMO_STAFF,
    Authenticator,
    ClaimsError,
    Principal,
    Role,
    Unauthenticated,
    principal_from_claims,
)
from clubgraph.sandbox.runner import RunningSandbox
from clubgraph.sandbox.tight.state import STATE
from clubgraph.settings import Settings, SettingsError
from support import graph_server

SECRET = "a-development-secret-of-at-least-32-bytes"
ISSUER = "https://id.clubgraph.test/"
AUDIENCE = "clubgraph"
INVOICES = "{ invoices(first: 1, source: [TIGHT]) { edges { node { id } } } }"


@dataclass(frozen=True)
class Keys:
    """Signing keys of the tests and the files the servers verify with."""

    rsa_pem: rsa.RSAPrivateKey
    ec_pem: ec.EllipticCurvePrivateKey
    rsa_jwks: rsa.RSAPrivateKey
    ec_jwks: ec.EllipticCurvePrivateKey
    pem_files: tuple[str, str]
    jwks_file: str
    rsa_public_pem: bytes


def _public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig"}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    folder = tmp_path_factory.mktemp("keys")
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_pem = ec.generate_private_key(ec.SECP256R1())
    rsa_jwks = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_jwks = ec.generate_private_key(ec.SECP256R1())
    (folder / "rsa.pem").write_bytes(_public_pem(rsa_pem))
    (folder / "ec.pem").write_bytes(_public_pem(ec_pem))
    jwks = {"keys": [_jwk(rsa_jwks, "rsa-1"), _jwk(ec_jwks, "ec-1")]}
    (folder / "jwks.json").write_text(json.dumps(jwks))
    return Keys(
        rsa_pem,
        ec_pem,
        rsa_jwks,
        ec_jwks,
        (str(folder / "rsa.pem"), str(folder / "ec.pem")),
        str(folder / "jwks.json"),
        _public_pem(rsa_pem),
    )


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "alice",
        "role": "staff",
        "tenants": ["*"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
    }
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    """The first two parts of a JWT."""
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"


def settings(sandbox: RunningSandbox, **kwargs: Any) -> Settings:
    sources = sandbox.source_settings()
    return Settings(sources=sources, **kwargs)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.text)
        return body


class Caller:
    """Raw GraphQL over HTTP, with or without a bearer token."""

    def __init__(self, url: str, http: aiohttp.ClientSession) -> None:
        self.url = url
        self.http = http

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        authorization: str | None = None,
    ) -> Reply:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if authorization is not None:
            headers["Authorization"] = authorization
        payload = {"query": query, "variables": variables or {}}
        async with self.http.post(self.url + "/graphql", json=payload, headers=headers) as r:
            return Reply(r.status, dict(r.headers), await r.text())

    async def data(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        reply = await self.post(query, variables, **kw)
        assert reply.status == 200, reply.text
        assert "errors" not in reply.body, reply.body
        return reply.body["data"]


@pytest.fixture(scope="module")
async def pem(sandbox: RunningSandbox, keys: Keys) -> AsyncIterator[Caller]:
    """Production mode, verifying HS256 and PEM public keys, with issuer and audience."""
    config = settings(
        sandbox,
        mode="production",
        jwt_secret=SECRET,
        jwt_public_keys=keys.pem_files,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
    )
    async with graph_server(config, sandbox) as server:
        yield Caller(server.url, server.http)


@pytest.fixture(scope="module")
async def jwks(sandbox: RunningSandbox, keys: Keys) -> AsyncIterator[Caller]:
    """Production mode, verifying with a JWKS file only."""
    config = settings(sandbox, mode="production", jwks_file=keys.jwks_file, jwt_issuer=ISSUER)
    async with graph_server(config, sandbox) as server:
        yield Caller(server.url, server.http)


@pytest.fixture(scope="module")
async def demo(sandbox: RunningSandbox) -> AsyncIterator[Caller]:
    """Sandbox mode: anonymous callers are the demo staff user."""
    async with graph_server(settings(sandbox, mode="sandbox", jwt_secret=SECRET), sandbox) as s:
        yield Caller(s.url, s.http)


def assert_refused(reply: Reply, reason: str, token: str | None = None) -> None:
    assert reply.status == 401, reply.text
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    [error] = reply.body["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    assert reason in error["message"], error["message"]
    if token is not None:
        assert token not in reply.text
        assert all(token not in v for v in reply.headers.values())


# --- tokens accepted -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["HS256", "RS256 PEM", "ES256 PEM"])
async def test_tokens_signed_with_the_secret_or_a_pem_key_are_accepted(
    pem: Caller, keys: Keys, kind: str
) -> None:
    signer: Any = {"HS256": SECRET, "RS256 PEM": keys.rsa_pem, "ES256 PEM": keys.ec_pem}[kind]
    token = jwt.encode(claims(), signer, algorithm=kind.split()[0])
    data = await pem.data(INVOICES, token=token)
    assert len(data["invoices"]["edges"]) == 1


@pytest.mark.parametrize("kind", ["RS256", "ES256"])
async def test_tokens_signed_with_a_jwks_key_are_accepted_by_kid(
    jwks: Caller, keys: Keys, kind: str
) -> None:
    signer, kid = (keys.rsa_jwks, "rsa-1") if kind == "RS256" else (keys.ec_jwks, "ec-1")
    token = jwt.encode(claims(aud=None), signer, algorithm=kind, headers={"kid": kid})
    data = await jwks.data(INVOICES, token=token)
    assert len(data["invoices"]["edges"]) == 1


# --- tokens refused --------------------------------------------------------------------


def _refused_tokens(keys: Keys) -> Iterator[tuple[str, str, str]]:
    """(case, token, what the message says) for the server ``pem``."""
    now = int(time.time())
    yield "expired", jwt.encode(claims(exp=now - 120), SECRET), "expired"
    yield "not yet valid", jwt.encode(claims(nbf=now + 600), SECRET), "not valid yet"
    yield "wrong issuer", jwt.encode(claims(iss="https://evil.test/"), SECRET), "issuer"
    yield "wrong audience", jwt.encode(claims(aud="another-api"), SECRET), "audience"
    yield "no exp", jwt.encode(claims(exp=None), SECRET), "no exp claim"
    other = "another-secret-that-is-32-bytes-long!!"
    yield "bad signature", jwt.encode(claims(), other), "signature is invalid"
    rs = jwt.encode(claims(), keys.rsa_jwks, algorithm="RS256")
    yield "unknown RSA key", rs, "signature is invalid"
    yield "alg none", unsigned({"alg": "none", "typ": "JWT"}, claims()) + ".", "none"
    # Key confusion: HMAC "signed" with the server's RSA public key as the secret.
    head = unsigned({"alg": "HS256", "typ": "JWT"}, claims())
    mac = hmac.new(keys.rsa_public_pem, head.encode(), hashlib.sha256).digest()
    yield "HS256 with the public key", f"{head}.{_b64(mac)}", "signature is invalid"
    yield "unknown role", jwt.encode(claims(role="admin"), SECRET), "role claim"
    yield "bad tenant", jwt.encode(claims(tenants=["gym:1"]), SECRET), "tenant"
    yield "malformed", "not.a.jwt", "malformed"


async def test_invalid_tokens_are_refused_with_a_reason_and_never_echoed(
    pem: Caller, keys: Keys
) -> None:
    for case, token, reason in _refused_tokens(keys):
        reply = await pem.post(INVOICES, token=token)
        assert reply.status == 401, case
        assert_refused(reply, reason, token)
        assert 'error="invalid_token"' in reply.headers["WWW-Authenticate"]


async def test_a_kid_that_names_no_key_is_refused(jwks: Caller, keys: Keys) -> None:
    unknown = jwt.encode(claims(aud=None), keys.rsa_jwks, "RS256", headers={"kid": "rsa-9"})
    assert_refused(await jwks.post(INVOICES, token=unknown), "key id (kid)", unknown)
    # The EC key's kid on an RS256 token: a key verifies only its own algorithm.
    wrong = jwt.encode(claims(aud=None), keys.rsa_jwks, "RS256", headers={"kid": "ec-1"})
    assert_refused(await jwks.post(INVOICES, token=wrong), "key id (kid)", wrong)
    # No secret here: HS256 is not accepted at all, whatever it is signed with.
    hs = jwt.encode(claims(aud=None), SECRET)
    assert_refused(await jwks.post(INVOICES, token=hs), "verifies HS256", hs)


async def test_production_mode_refuses_requests_without_a_token(pem: Caller) -> None:
    reply = await pem.post(INVOICES)
    assert_refused(reply, "authentication required")
    assert reply.headers["WWW-Authenticate"] == 'Bearer realm="clubgraph"'
    assert_refused(await pem.post(INVOICES, authorization="Basic dXNlcjpwdw=="), "Bearer <token>")


async def test_sandbox_mode_serves_anonymous_callers_as_demo_staff(
    sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="clubgraph"):
        async with graph_server(settings(sandbox, mode="sandbox"), sandbox) as server:
            caller = Caller(server.url, server.http)
            data = await caller.data(INVOICES)
            assert len(data["invoices"]["edges"]) == 1
            await caller.data(INVOICES)
    announced = [r for r in caplog.records if "demo staff user" in r.getMessage()]
    assert len(announced) == 1
    assert "every tenant" in announced[0].getMessage()


async def test_sandbox_mode_still_refuses_an_invalid_token(demo: Caller) -> None:
    expired = jwt.encode(claims(exp=int(time.time()) - 120), SECRET)
    assert_refused(await demo.post(INVOICES, token=expired), "expired", expired)
    aimed = jwt.encode(claims(), SECRET)
    assert_refused(await demo.post(INVOICES, token=aimed), "CLUBGRAPH_JWT_AUDIENCE", aimed)
    valid = jwt.encode(claims(iss=None, aud=None), SECRET)
    assert (await demo.post(INVOICES, token=valid)).status == 200


async def test_require_auth_turns_the_demo_user_off(
    sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    config = settings(sandbox, mode="sandbox", require_auth=True, jwt_secret=SECRET)
    with caplog.at_level("WARNING", logger="clubgraph"):
        async with graph_server(config, sandbox) as server:
            caller = Caller(server.url, server.http)
            assert_refused(await caller.post(INVOICES), "authentication required")
            token = jwt.encode(claims(iss=None, aud=None), SECRET)
            assert (await caller.post(INVOICES, token=token)).status == 200
    assert not [r for r in caplog.records if "demo staff user" in r.getMessage()]


# --- clubgraph token -----------------------------------------------------------------


async def _cli(*args: str, secret: str | None) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUBGRAPH_")}
    if secret is not None:
        env["CLUBGRAPH_JWT_SECRET"] = secret
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "clubgraph.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode().strip(), err.decode()


async def test_clubgraph_token_mints_tokens_the_server_accepts(pem: Caller) -> None:
    code, token, _ = await _cli(
        "token",
        "--role=staff",
        "--tenants=fitnessforce:101,tight:*",
        "--sub=alice",
        "--ttl=600",
        f"--issuer={ISSUER}",
        f"--audience={AUDIENCE}",
        secret=SECRET,
    )
    assert code == 0
    assert len((await pem.data(INVOICES, token=token))["invoices"]["edges"]) == 1
    auth = Authenticator.from_settings(
        Settings(jwt_secret=SECRET, jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
    )
    assert auth.verify(token) == Principal(
        Role.STAFF, "alice", frozenset({"fitnessforce:101", "tight:*"})
    )

    client = ids.encode(Key(EntityType.CLIENT, Source.TIMETAP, "1", "42"))
    code, token, _ = await _cli(
        "token", "--role=member", f"--client={client}", "--sub=bob", secret=SECRET
    )
    assert code == 0
    member = Authenticator.from_settings(Settings(jwt_secret=SECRET)).verify(token)
    assert member.clients == {ids.decode(client)}
    assert member.is_member


async def test_clubgraph_token_refuses_to_run_without_a_secret() -> None:
    code, out, err = await _cli("token", "--role=staff", "--tenants=*", secret=None)
    assert (code, out) == (2, "")
    assert "CLUBGRAPH_JWT_SECRET" in err


# --- invoiceByKey: one invoice, no token -----------------------------------------------

BY_KEY = """
query ($key: String!) {
  invoiceByKey(key: $key) {
    id number status total { amount currency }
    items { edges { node { id description invoice { id client { id } } } } }
    client { id name }
    subscription { id }
  }
}
"""


def keyed_invoice(sandbox: RunningSandbox) -> dict[str, Any]:
    """A sent Tight invoice with lines, whose client has other invoices."""
    invoices = sandbox.apps["tight"][STATE].invoices.values()
    per_client: dict[Any, int] = {}
    for raw in invoices:
        per_client[raw["clientId"]] = per_client.get(raw["clientId"], 0) + 1
    return next(
        raw
        for raw in invoices
        if raw["status"] == "OPEN" and raw["lineItems"] and per_client[raw["clientId"]] > 1
    )


def global_id(raw: dict[str, Any], kind: EntityType = EntityType.INVOICE) -> str:
    ident = raw["clientId"] if kind is EntityType.CLIENT else raw["id"]
    return ids.encode(Key(kind, Source.TIGHT, str(raw["businessId"]), str(ident)))


async def test_invoice_by_key_needs_no_token_and_shows_that_invoice_only(
    pem: Caller, sandbox: RunningSandbox
) -> None:
    raw = keyed_invoice(sandbox)
    data = await pem.data(BY_KEY, {"key": raw["clientInvoiceKey"]})
    invoice = data["invoiceByKey"]
    assert invoice["id"] == global_id(raw)
    lines = [e["node"] for e in invoice["items"]["edges"]]
    assert [n["description"] for n in lines] == [i["description"] for i in raw["lineItems"]]
    # Its lines lead back to it; its client (and so the client's other invoices) and its
    # plan are not the key's to see: absent, as when the source records none.
    assert {n["invoice"]["id"] for n in lines} == {invoice["id"]}
    assert {n["invoice"]["client"] is None for n in lines} == {True}
    assert invoice["client"] is None
    assert invoice["subscription"] is None
    # A literal key works the same; a key that opens nothing is not found.
    literal = await pem.data('{ invoiceByKey(key: "%s") { id } }' % raw["clientInvoiceKey"])
    assert literal["invoiceByKey"] == {"id": invoice["id"]}
    assert (await pem.data(BY_KEY, {"key": "0123456789abcdef01234567"}))["invoiceByKey"] is None
    assert (await pem.data(BY_KEY, {"key": "bad key\r\nX: y"}))["invoiceByKey"] is None


async def test_an_invoice_key_admits_nothing_but_invoice_by_key(
    pem: Caller, sandbox: RunningSandbox
) -> None:
    raw = keyed_invoice(sandbox)
    key = raw["clientInvoiceKey"]
    for query in (
        '{ invoiceByKey(key: "%s") { id } client(id: "%s") { name } }'
        % (key, global_id(raw, EntityType.CLIENT)),
        '{ invoiceByKey(key: "%s") { id } invoices(first: 5) { edges { cursor } } }' % key,
        '{ invoiceByKey(key: "%s") { id } node(id: "%s") { id } }' % (key, global_id(raw)),
        '{ invoiceByKey(key: "%s") { id } ...F } fragment F on Query { sources { name } }' % key,
        'mutation { voidInvoice(input: {id: "%s"}) { __typename } }' % global_id(raw),
        "{ __schema { types { name } } }",
    ):
        assert_refused(await pem.post(query), "authentication required")
        assert key not in (await pem.post(query)).text


async def test_invoice_by_key_shows_the_client_to_callers_who_may_see_it(
    pem: Caller, demo: Caller, sandbox: RunningSandbox
) -> None:
    raw = keyed_invoice(sandbox)
    client = global_id(raw, EntityType.CLIENT)
    variables = {"key": raw["clientInvoiceKey"]}
    tight_staff = jwt.encode(claims(tenants=["tight:*"]), SECRET)
    other_staff = jwt.encode(claims(tenants=["fitnessforce:101"]), SECRET)
    seen = await pem.data(BY_KEY, variables, token=tight_staff)
    assert seen["invoiceByKey"]["client"]["id"] == client
    hidden = await pem.data(BY_KEY, variables, token=other_staff)
    assert hidden["invoiceByKey"]["id"] == global_id(raw)
    assert hidden["invoiceByKey"]["client"] is None
    assert (await demo.data(BY_KEY, variables))["invoiceByKey"]["client"]["id"] == client


# --- Principal -------------------------------------------------------------------------

FF_101 = Key(EntityType.CLIENT, Source.FITNESSFORCE, "101", "5")
FF_102 = Key(EntityType.CLIENT, Source.FITNESSFORCE, "102", "5")
TIGHT = Key(EntityType.CLIENT, Source.TIGHT, "7001", "9")
TIMETAP = Key(EntityType.CLIENT, Source.TIMETAP, "1", "9")


def test_staff_see_the_tenants_their_claim_names() -> None:
    staff = principal_from_claims(
        {"sub": "alice", "role": "staff", "tenants": ["fitnessforce:101", "tight:*"]}
    )
    assert staff.may_see_tenant(Source.FITNESSFORCE, "101")
    assert not staff.may_see_tenant("fitnessforce", "102")
    assert staff.may_see_tenant(Source.TIGHT, "any business")
    assert not staff.may_see_tenant(Source.TIMETAP, "1")
    assert [staff.may_see_client(k) for k in (FF_101, FF_102, TIGHT, TIMETAP)] == [
        True,
        False,
        True,
        False,
    ]
    invoice = Key(EntityType.INVOICE, Source.FITNESSFORCE, "102", "5/7")
    assert not staff.may_see_invoice(invoice, FF_102)
    assert staff.with_invoice(invoice).may_see_invoice(invoice, FF_102)
    assert not staff.is_member
    assert not staff.sees_every_tenant
    assert DEMO_STAFF.sees_every_tenant
    assert all(DEMO_STAFF.may_see_client(k) for k in (FF_101, FF_102, TIGHT, TIMETAP))
    service = principal_from_claims({"sub": "billing", "role": "service", "tenants": "*"})
    assert service.role is Role.SERVICE
    assert service.sees_every_tenant


def test_members_see_only_the_clients_they_are() -> None:
    member = principal_from_claims(
        {"sub": "bob", "role": "member", "clients": [ids.encode(FF_101)]}
    )
    assert member.is_member
    assert member.may_see_client(FF_101)
    assert not member.may_see_client(FF_102)
    assert not member.may_see_tenant(Source.FITNESSFORCE, "101")
    own = Key(EntityType.INVOICE, Source.FITNESSFORCE, "101", "5/1")
    other = Key(EntityType.INVOICE, Source.FITNESSFORCE, "101", "6/1")
    assert member.may_see_invoice(own, FF_101)
    assert not member.may_see_invoice(other, FF_102)
    assert not member.may_see_invoice(own)
    plan = Key(EntityType.SUBSCRIPTION, Source.FITNESSFORCE, "101", "5/3")
    assert member.may_see_subscription(plan, FF_101)
    assert not member.may_see_subscription(plan, FF_102)


def test_an_invoice_key_holder_sees_only_the_invoices_its_keys_opened() -> None:
    holder = Principal.invoice_key_holder(["k" * 24])
    invoice = Key(EntityType.INVOICE, Source.TIGHT, "7001", "12")
    assert holder.is_member
    assert not holder.may_see_invoice(invoice, TIGHT)
    granted = holder.with_invoice(invoice)
    assert granted.may_see_invoice(invoice, TIGHT)
    assert not granted.may_see_invoice(Key(EntityType.INVOICE, Source.TIGHT, "7001", "13"), TIGHT)
    assert not granted.may_see_client(TIGHT)
    assert not granted.may_see_tenant(Source.TIGHT, "7001")
    assert granted.scope == holder.scope
    assert "k" * 24 not in repr(granted)


def test_every_caller_has_a_scope_of_its_own() -> None:
    auth = Authenticator.from_settings(Settings(jwt_secret=SECRET))

    def scope(**overrides: Any) -> str:
        return auth.verify(jwt.encode(claims(iss=None, aud=None, **overrides), SECRET)).scope

    callers = {
        scope(),
        scope(sub="bob"),
        scope(tenants=["tight:*"]),
        scope(role="service"),
        scope(role="member", tenants=None, clients=[ids.encode(FF_101)]),
        scope(role="member", tenants=None, clients=[ids.encode(FF_102)]),
        DEMO_STAFF.scope,
        Principal.invoice_key_holder(["a" * 24]).scope,
        Principal.invoice_key_holder(["b" * 24]).scope,
    }
    assert len(callers) == 9
    # The same caller, token after token, keeps its scope.
    assert scope() == scope(exp=int(time.time()) + 900)


@pytest.mark.parametrize(
    ("claims_", "reason"),
    [
        ({"role": "staff", "tenants": ["*"]}, "sub claim"),
        ({"sub": "a", "role": "owner", "tenants": ["*"]}, "role claim"),
        ({"sub": "a", "role": "staff"}, "needs a tenants claim"),
        ({"sub": "a", "role": "staff", "tenants": ["fitnessforce"]}, "<source>:<tenant>"),
        ({"sub": "a", "role": "staff", "tenants": [1]}, "list of strings"),
        ({"sub": "a", "role": "member"}, "needs a clients claim"),
        ({"sub": "a", "role": "member", "clients": ["nope"]}, "not a client ID"),
    ],
)
def test_claims_that_describe_no_caller_are_refused(claims_: dict[str, Any], reason: str) -> None:
    with pytest.raises(ClaimsError, match=reason.replace("<", ".").replace(">", ".")):
        principal_from_claims(claims_)


def test_unfit_keys_are_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="32 bytes"):
        Authenticator.from_settings(Settings(jwt_secret="short"))
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    (tmp_path / "small.pem").write_bytes(_public_pem(small))
    with pytest.raises(SettingsError, match="2048 bits"):
        Authenticator.from_settings(Settings(jwt_public_keys=(str(tmp_path / "small.pem"),)))
    p384 = ec.generate_private_key(ec.SECP384R1())
    (tmp_path / "p384.pem").write_bytes(_public_pem(p384))
    with pytest.raises(SettingsError, match="P-256"):
        Authenticator.from_settings(Settings(jwt_public_keys=(str(tmp_path / "p384.pem"),)))
    private = jwt.algorithms.ECAlgorithm.to_jwk(
        ec.generate_private_key(ec.SECP256R1()), as_dict=True
    )
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**private, "kid": "x"}]}))
    with pytest.raises(SettingsError, match="only public"):
        Authenticator.from_settings(Settings(jwks_file=str(tmp_path / "jwks.json")))
    with pytest.raises(SettingsError, match=r"missing\.pem"):
        Authenticator.from_settings(Settings(jwt_public_keys=(str(tmp_path / "missing.pem"),)))


def test_a_server_without_keys_accepts_no_token() -> None:
    auth = Authenticator.from_settings(Settings(mode="production"))
    assert auth.authenticate(None) is None
    with pytest.raises(Unauthenticated, match="verifies HS256"):
        auth.authenticate("Bearer " + jwt.encode(claims(), SECRET))
    assert Authenticator.from_settings(Settings()).authenticate(None) is DEMO_STAFF
