"""Who is calling the user endpoint: a Supabase access token, verified.

A token is accepted only if its signature checks out with a key *we* chose for its
algorithm — HS256 with `FAILWATCH_SUPABASE_JWT_SECRET`, or RS256/ES256 with a public key
of the project's JWKS (`<SUPABASE_URL>/auth/v1/.well-known/jwks.json`) whose own
algorithm matches — so `alg: none`, algorithm confusion (a public key used as an HMAC
secret) and symmetric keys in the JWKS are all refused. The audience must be
`authenticated`, `exp` must be present and in the future (a little leeway for clock
skew), and `sub` is the user id. Both kinds of key may be configured at once, as during
Supabase's migration from the shared secret to signing keys.

The JWKS is cached and refetched when it grows old or when a token names a key id it
does not hold (a key rotation) — at most once per `refetch_interval`, so a stream of
made-up key ids cannot turn into a stream of fetches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import jwt
from pydantic import SecretStr

from receiver.errors import TokenRejected, VerifierUnavailable

log = logging.getLogger("failwatch.user_auth")

AUDIENCE = "authenticated"
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "ES256"})
JWKS_PATH = "/auth/v1/.well-known/jwks.json"
_MAX_TOKEN_CHARS = 8192
_MAX_SUB_CHARS = 128


class UserTokenVerifier:
    def __init__(
        self,
        *,
        jwt_secret: SecretStr | None,
        project_url: str | None,
        http: httpx.AsyncClient,
        leeway: float = 30.0,
        jwks_ttl: float = 600.0,
        refetch_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret = jwt_secret
        self._jwks_url = project_url.rstrip("/") + JWKS_PATH if project_url else None
        self._http = http
        self._leeway = leeway
        self._jwks_ttl = jwks_ttl
        self._refetch_interval = refetch_interval
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        return self._secret is not None or self._jwks_url is not None

    async def user_id(self, token: str) -> str:
        """The `sub` of a valid token; raises `TokenRejected` or `VerifierUnavailable`."""
        if len(token) > _MAX_TOKEN_CHARS:
            raise TokenRejected("token too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("malformed token") from None
        algorithm = header.get("alg")
        if algorithm == "HS256" and self._secret is not None:
            key: Any = self._secret.get_secret_value().encode()
        elif algorithm in ASYMMETRIC_ALGORITHMS and self._jwks_url is not None:
            jwk = await self._signing_key(header.get("kid"))
            if jwk.algorithm_name != algorithm:
                raise TokenRejected("algorithm does not match the signing key")
            key = jwk.key
        else:
            raise TokenRejected("unsupported signing algorithm")
        claims = self._decode(token, key, algorithm)
        subject = claims.get("sub")
        # A user id is printable text: a NUL or a control character in `sub` (under a
        # key we trust or not) can only be an attack, and reached the database (503).
        if (
            not isinstance(subject, str)
            or not subject
            or len(subject) > _MAX_SUB_CHARS
            or not subject.isprintable()
        ):
            raise TokenRejected("token has no usable subject")
        return subject

    def _decode(self, token: str, key: Any, algorithm: str) -> Mapping[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=AUDIENCE,
                leeway=self._leeway,
                options={"require": ["exp", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("token expired") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected("token is not for authenticated users") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(f"token lacks the {exc.claim} claim") from None
        except jwt.PyJWTError:
            raise TokenRejected("invalid token") from None
        return claims

    async def _signing_key(self, kid: object) -> jwt.PyJWK:
        if not isinstance(kid, str) or not kid:
            raise TokenRejected("token names no signing key")
        fetched = self._fetched_at
        if kid not in self._keys or fetched is None or self._clock() - fetched >= self._jwks_ttl:
            await self._refresh()
        jwk = self._keys.get(kid)
        if jwk is None:
            raise TokenRejected("unknown signing key")
        return jwk

    async def _refresh(self) -> None:
        async with self._lock:
            attempted = self._attempted_at
            if attempted is not None and self._clock() - attempted < self._refetch_interval:
                # Just fetched (perhaps by a concurrent request), or a made-up key id is
                # asking again: answer from what we hold.
                if self._fetched_at is None:
                    raise VerifierUnavailable("signing keys unavailable")
                return
            self._attempted_at = self._clock()
            try:
                self._keys = await self._fetch()
            except VerifierUnavailable:
                # Keep judging with the keys we hold (rotations publish new keys ahead
                # of their use); never having fetched any, there is no verdict to give.
                if self._fetched_at is None:
                    raise
                return
            self._fetched_at = self._clock()

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        assert self._jwks_url is not None
        try:
            response = await self._http.get(self._jwks_url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("could not fetch the project's JWKS", extra={"error": type(exc).__name__})
            raise VerifierUnavailable("signing keys unavailable") from None
        listed = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(listed, list):
            log.warning("the project's JWKS has no key list")
            raise VerifierUnavailable("signing keys unavailable")
        return signing_keys(listed)


def signing_keys(listed: list[Any]) -> dict[str, jwt.PyJWK]:
    """The usable public signing keys of a JWKS, by key id (others are skipped)."""
    keys: dict[str, jwt.PyJWK] = {}
    for entry in listed:
        if not isinstance(entry, dict) or entry.get("kty") not in ("RSA", "EC"):
            continue  # never a symmetric ("oct") key from a document anyone can read
        if entry.get("use", "sig") != "sig" or not isinstance(entry.get("kid"), str):
            continue
        try:
            jwk = jwt.PyJWK(entry)
        except jwt.PyJWTError:
            continue
        if jwk.algorithm_name in ASYMMETRIC_ALGORITHMS:
            keys[entry["kid"]] = jwk
    return keys
