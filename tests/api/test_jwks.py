"""User tokens signed with the project's asymmetric keys, published as a JWKS by a
loopback stand-in: ES256 and RS256, key rotation, and the usual forgeries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from receiver.errors import TokenRejected, VerifierUnavailable
from receiver.supabase.jwt import UserTokenVerifier
from receiver.web.app import create_app
from tests.api.seed import USERS, Seeded
from tests.api.support import JWT_SECRET, api_settings
from tests.asgi import serving
from tests.standins.supabase_auth import JWKS_PATH, SupabaseAuthStandIn
from tests.standins.supabase_auth import serving as standing

pytestmark = pytest.mark.anyio

URL = "/api/generations/failed"
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: Any, kid: str, **extra: str) -> dict[str, Any]:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        entry = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
        entry.update(alg="ES256")
    else:
        entry = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        entry.update(alg="RS256")
    entry.update(kid=kid, use="sig", **extra)
    return entry


def signed(key: Any, kid: str | None, algorithm: str, *, sub: str = USERS[0], **claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": sub, "aud": "authenticated", "exp": now + 600, "iat": now, **claims}
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


@pytest.fixture
def stand_in() -> Iterator[SupabaseAuthStandIn]:
    jwks = {"keys": [public_jwk(EC_KEY, "ec-1")]}
    with standing(SupabaseAuthStandIn(service_role_key="unused", jwks=jwks)) as server:
        yield server


def _jwks_fetches(stand_in: SupabaseAuthStandIn) -> int:
    return len(stand_in.requests_to(JWKS_PATH))


@pytest.mark.postgres
async def test_es256_and_rs256_tokens_from_the_jwks_are_accepted(
    source: Seeded, stand_in: SupabaseAuthStandIn, tmp_path: Path
) -> None:
    stand_in.jwks = {"keys": [public_jwk(EC_KEY, "ec-1"), public_jwk(RSA_KEY, "rsa-1")]}
    settings = api_settings(tmp_path, source, supabase_jwt_secret=None, supabase_url=stand_in.url)
    async with serving(create_app(settings)) as client:
        es = await client.get(URL, headers=_bearer(signed(EC_KEY, "ec-1", "ES256")))
        rs = await client.get(URL, headers=_bearer(signed(RSA_KEY, "rsa-1", "RS256")))
        hs = await client.get(URL, headers=_bearer(signed(JWT_SECRET, None, "HS256")))
    assert (es.status_code, rs.status_code) == (200, 200)
    assert es.json() == rs.json()
    assert hs.status_code == 401  # no shared secret configured: HS256 proves nothing
    assert _jwks_fetches(stand_in) == 1


@pytest.mark.postgres
async def test_both_kinds_of_key_at_once_during_a_migration(
    source: Seeded, stand_in: SupabaseAuthStandIn, tmp_path: Path
) -> None:
    settings = api_settings(tmp_path, source, supabase_url=stand_in.url)
    async with serving(create_app(settings)) as client:
        es = await client.get(URL, headers=_bearer(signed(EC_KEY, "ec-1", "ES256")))
        hs = await client.get(URL, headers=_bearer(signed(JWT_SECRET, None, "HS256")))
    assert (es.status_code, hs.status_code) == (200, 200)


def _public_pem(key: Any) -> bytes:
    pem: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


def _confused_token() -> str:
    """HS256 "signed" with the published public key as the HMAC secret — the classic
    algorithm confusion (PyJWT refuses to make one, so it is built by hand)."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "ec-1"}).encode())
    claims = {"sub": USERS[0], "aud": "authenticated", "exp": int(time.time()) + 600}
    payload = _b64(json.dumps(claims).encode())
    mac = hmac.new(_public_pem(EC_KEY), f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{_b64(mac.digest())}"


FORGERIES: dict[str, Callable[[], str]] = {
    "signed by another key under a known kid": lambda: signed(OTHER_EC_KEY, "ec-1", "ES256"),
    "RS256 under an ES256 kid": lambda: signed(RSA_KEY, "ec-1", "RS256"),
    "algorithm confusion": _confused_token,
    "no kid": lambda: signed(EC_KEY, None, "ES256"),
    "unknown kid": lambda: signed(EC_KEY, "ec-9", "ES256"),
    "expired": lambda: signed(EC_KEY, "ec-1", "ES256", exp=int(time.time()) - 3600),
    "wrong audience": lambda: signed(EC_KEY, "ec-1", "ES256", aud="anon"),
    "ES384": lambda: jwt.encode(
        {"sub": USERS[0], "aud": "authenticated", "exp": int(time.time()) + 60},
        ec.generate_private_key(ec.SECP384R1()),
        algorithm="ES384",
        headers={"kid": "ec-1"},
    ),
}


@pytest.mark.postgres
@pytest.mark.parametrize("kind", list(FORGERIES))
async def test_forgeries_against_the_jwks_are_401(
    source: Seeded, stand_in: SupabaseAuthStandIn, tmp_path: Path, kind: str
) -> None:
    settings = api_settings(tmp_path, source, supabase_jwt_secret=None, supabase_url=stand_in.url)
    async with serving(create_app(settings)) as client:
        response = await client.get(URL, headers=_bearer(FORGERIES[kind]()))
    assert response.status_code == 401, response.text


async def test_symmetric_keys_in_a_jwks_are_never_used(stand_in: SupabaseAuthStandIn) -> None:
    secret = b"a-symmetric-key-anyone-could-read-here"
    oct_key = {"kty": "oct", "kid": "sym", "alg": "HS256", "k": _b64(secret)}
    stand_in.jwks = {"keys": [oct_key, public_jwk(EC_KEY, "ec-1")]}
    token = jwt.encode(
        {"sub": USERS[0], "aud": "authenticated", "exp": int(time.time()) + 60},
        secret,
        algorithm="HS256",
        headers={"kid": "sym"},
    )
    async with httpx.AsyncClient() as http:
        verifier = UserTokenVerifier(jwt_secret=None, project_url=stand_in.url, http=http)
        with pytest.raises(TokenRejected):
            await verifier.user_id(token)
        # Claiming ES256 for the symmetric kid does not help either.
        with pytest.raises(TokenRejected):
            await verifier.user_id(signed(EC_KEY, "sym", "ES256"))
        assert await verifier.user_id(signed(EC_KEY, "ec-1", "ES256")) == USERS[0]


async def test_key_rotation_refetches_on_an_unknown_kid_but_not_too_often(
    stand_in: SupabaseAuthStandIn,
) -> None:
    now = [0.0]
    async with httpx.AsyncClient() as http:
        verifier = UserTokenVerifier(
            jwt_secret=None,
            project_url=stand_in.url,
            http=http,
            jwks_ttl=600,
            refetch_interval=30,
            clock=lambda: now[0],
        )
        assert await verifier.user_id(signed(EC_KEY, "ec-1", "ES256")) == USERS[0]
        assert await verifier.user_id(signed(EC_KEY, "ec-1", "ES256")) == USERS[0]
        assert _jwks_fetches(stand_in) == 1  # cached

        # The project publishes a new key and starts signing with it.
        stand_in.jwks = {"keys": [public_jwk(EC_KEY, "ec-1"), public_jwk(RSA_KEY, "rsa-2")]}
        now[0] = 45
        assert await verifier.user_id(signed(RSA_KEY, "rsa-2", "RS256")) == USERS[0]
        assert _jwks_fetches(stand_in) == 2

        # Made-up key ids do not turn into a stream of fetches.
        for second in range(1, 20):
            now[0] = 45 + second
            with pytest.raises(TokenRejected, match="unknown signing key"):
                await verifier.user_id(signed(EC_KEY, f"made-up-{second}", "ES256"))
        assert _jwks_fetches(stand_in) == 2
        now[0] = 80
        with pytest.raises(TokenRejected):
            await verifier.user_id(signed(EC_KEY, "made-up-again", "ES256"))
        assert _jwks_fetches(stand_in) == 3

        # The old key is retired; once the cache is old, tokens signed with it fail.
        stand_in.jwks = {"keys": [public_jwk(RSA_KEY, "rsa-2")]}
        now[0] = 80 + 601
        with pytest.raises(TokenRejected, match="unknown signing key"):
            await verifier.user_id(signed(EC_KEY, "ec-1", "ES256"))
        assert await verifier.user_id(signed(RSA_KEY, "rsa-2", "RS256")) == USERS[0]


async def test_known_keys_keep_working_while_the_jwks_endpoint_is_down(
    stand_in: SupabaseAuthStandIn,
) -> None:
    now = [0.0]
    async with httpx.AsyncClient() as http:
        verifier = UserTokenVerifier(
            jwt_secret=None, project_url=stand_in.url, http=http, jwks_ttl=60, clock=lambda: now[0]
        )
        assert await verifier.user_id(signed(EC_KEY, "ec-1", "ES256")) == USERS[0]
        stand_in.jwks = {"no": "keys"}  # a broken document: the fetch fails
        now[0] = 120
        assert await verifier.user_id(signed(EC_KEY, "ec-1", "ES256")) == USERS[0]
        assert _jwks_fetches(stand_in) == 2


async def test_without_any_jwks_the_answer_is_503_not_401(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with httpx.AsyncClient() as http:
        verifier = UserTokenVerifier(jwt_secret=None, project_url=closed, http=http)
        with pytest.raises(VerifierUnavailable):
            await verifier.user_id(signed(EC_KEY, "ec-1", "ES256"))
    settings = api_settings(tmp_path, None, supabase_jwt_secret=None, supabase_url=closed)
    async with serving(create_app(settings)) as client:
        response = await client.get(URL, headers=_bearer(signed(EC_KEY, "ec-1", "ES256")))
    assert response.status_code == 503


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
