"""Shared-secret and bearer-token checks, in constant time.

Database Webhooks are not signed; the dashboard's two helpers put a shared secret in
`x-supabase-webhook-source` or `Authorization: Bearer`. failwatch also takes
`x-webhook-secret`. Several secrets may be valid at once, for rotation.

The admin API (`/api/admin/*`) takes `FAILWATCH_ADMIN_TOKEN` as a bearer token only:
no token is 401, a wrong one 403, and with no token configured the admin API is off (404).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

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


def require_admin(request: Request) -> Response | None:
    """The refusal to send for a request that is not the admin's, or None to go on."""
    configured = services_of(request).settings.admin_token
    if configured is None:
        return JSONResponse(
            {"error": "the admin API is disabled; set FAILWATCH_ADMIN_TOKEN to enable it"},
            status_code=404,
        )
    presented = bearer_token(request.headers)
    if presented is None:
        return JSONResponse(
            {"error": "missing bearer token"},
            status_code=401,
            headers={"www-authenticate": "Bearer"},
        )
    if not matches_any([presented], [configured.get_secret_value().encode()]):
        return JSONResponse({"error": "invalid admin token"}, status_code=403)
    return None
