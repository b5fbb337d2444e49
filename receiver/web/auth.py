"""Shared-secret and bearer-token checks, in constant time.

Database Webhooks are not signed; the dashboard's two helpers put a shared secret in
`x-supabase-webhook-source` or `Authorization: Bearer`. failwatch also takes
`x-webhook-secret`. Several secrets may be valid at once, for rotation.

The admin API (`/api/admin/*`, one mount behind `AdminOnly`) takes
`FAILWATCH_ADMIN_TOKEN` as a bearer token only: no token is 401, a wrong one 403, and
with no token configured the admin API is off (404).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from receiver.errors import AccessDenied
from receiver.web.context import services_of

SECRET_HEADERS = ("x-supabase-webhook-source", "x-webhook-secret")
_SECRET_NAMES = tuple(name.encode() for name in SECRET_HEADERS)
_CREDENTIAL_NAMES = frozenset({*_SECRET_NAMES, b"authorization"})


def bearer_token(headers: Headers) -> bytes | None:
    value = headers.get("authorization")
    return None if value is None else _bearer(value)


def _bearer(value: str) -> bytes | None:
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip().encode("utf-8", "surrogateescape")


def presented_secrets(raw_headers: Iterable[tuple[bytes, bytes]]) -> list[bytes]:
    """Every credential the request carries (ASGI's raw headers), in any of the accepted
    places; of a header sent twice, the first, as Starlette's `Headers` reads it."""
    first: dict[bytes, bytes] = {}
    for name, value in raw_headers:
        if name in _CREDENTIAL_NAMES and name not in first:
            first[name] = value
    found = [_as_text(first[name]) for name in _SECRET_NAMES if name in first]
    authorization = first.get(b"authorization")
    if authorization is not None:
        token = _bearer(authorization.decode("latin-1"))
        if token is not None:
            found.append(token)
    return found


def _as_text(value: bytes) -> bytes:
    # What the value was compared as before: Starlette's latin-1 text, encoded as UTF-8.
    # White space around a header value is not part of it (RFC 9110, 5.5), wherever the
    # credential comes: the same rule as for a bearer token and for configured secrets.
    value = value.strip()
    return value if value.isascii() else value.decode("latin-1").encode("utf-8")


def matches_any(presented: Sequence[bytes], accepted: Sequence[bytes]) -> bool:
    """True if some presented credential equals some accepted one.

    Every pair is compared, always, so the time taken says nothing about which matched.
    """
    ok = False
    for given in presented:
        for expected in accepted:
            ok |= hmac.compare_digest(given, expected)
    return ok


def check_admin(request: Request) -> None:
    """Raise `AccessDenied` unless the request carries the admin token."""
    configured = services_of(request).settings.admin_token
    if configured is None:
        raise AccessDenied(404, "the admin API is disabled; set FAILWATCH_ADMIN_TOKEN to enable it")
    presented = bearer_token(request.headers)
    if presented is None:
        raise AccessDenied(401, "missing bearer token")
    if not matches_any([presented], [configured.get_secret_value().encode()]):
        raise AccessDenied(403, "invalid admin token")


class AdminOnly:
    """Middleware of the `/api/admin` mount: nothing in it answers without the token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # No admin route takes OPTIONS: a browser's preflight gets the router's 405
        # (and no CORS headers), as before the routes shared this check.
        if scope["type"] == "http" and scope["method"] != "OPTIONS":
            check_admin(Request(scope, receive))
        await self.app(scope, receive, send)
