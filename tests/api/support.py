"""Settings and credentials the API tests share."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.applications import Starlette

from receiver.config.settings import Settings, load_settings
from tests.api.seed import Seeded
from tests.asgi import serving

ADMIN_TOKEN = "admin-token-for-tests-0123456789"
# Supabase's local development secret: long enough for HS256.
JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"


def api_settings(tmp_path: Path, source: Seeded | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "state_url": f"sqlite:///{tmp_path}/failwatch.db",
        "admin_token": ADMIN_TOKEN,
        "supabase_jwt_secret": JWT_SECRET,
    }
    if source is not None:
        values["database_url"] = source.dsn
    values.update(overrides)
    return load_settings(**values)


def user_token(
    sub: str,
    *,
    secret: str = JWT_SECRET,
    audience: str | None = "authenticated",
    expires_in: float | None = 3600,
    **claims: Any,
) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {"sub": sub, "role": "authenticated", "iat": now, **claims}
    if audience is not None:
        payload["aud"] = audience
    if expires_in is not None:
        payload["exp"] = now + int(expires_in)
    return jwt.encode(payload, secret, algorithm="HS256")


def admin_headers() -> dict[str, str]:
    return {"authorization": f"Bearer {ADMIN_TOKEN}"}


def user_headers(sub: str) -> dict[str, str]:
    return {"authorization": f"Bearer {user_token(sub)}"}


class BlockingClient:
    """Synchronous calls into an app served on a portal's event loop (for hypothesis,
    whose tests are synchronous)."""

    def __init__(self, portal: BlockingPortal, client: httpx.AsyncClient) -> None:
        self._portal = portal
        self._client = client

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(functools.partial(self._client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def options(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("OPTIONS", url, **kwargs)


@contextmanager
def blocking_client(app: Starlette) -> Iterator[BlockingClient]:
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(serving(app)) as client,
    ):
        yield BlockingClient(portal, client)
