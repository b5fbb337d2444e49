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
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from receiver.errors import AccessDenied
from receiver.web.context import services_of

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
    # White space around a header value is not part of it (RFC 9110, 5.5), wherever the
    # credential comes: the same rule as for a bearer token and for configured secrets.
    found = [
        headers[name].strip().encode("utf-8", "surrogateescape")
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
