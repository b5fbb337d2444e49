"""Shared-secret and bearer-token checks, in constant time.

Database Webhooks are not signed; the dashboard's two helpers put a shared secret in
`x-supabase-webhook-source` or `Authorization: Bearer`. failwatch also takes
`x-webhook-secret`. Several secrets may be valid at once, for rotation.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from starlette.datastructures import Headers

SECRET_HEADERS = ("x-supabase-webhook-source", "x-webhook-secret")


def bearer_token(headers: Headers) -> bytes | None:
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip().encode("utf-8", "surrogateescape")


def presented_secrets(headers: Headers) -> list[bytes]:
    """Every credential the request carries, in any of the accepted places."""
    found = [
        headers[name].encode("utf-8", "surrogateescape")
        for name in SECRET_HEADERS
        if name in headers
    ]
    token = bearer_token(headers)
    if token is not None:
        found.append(token)
    return found


def matches_any(presented: Sequence[bytes], accepted: Sequence[bytes]) -> bool:
    """True if some presented credential equals some accepted one.

    Every pair is compared, always, so the time taken says nothing about which matched.
    """
    ok = False
    for given in presented:
        for expected in accepted:
            ok |= hmac.compare_digest(given, expected)
    return ok
