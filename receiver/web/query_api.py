"""What the API handlers share, built once per app from the settings.

The source database pool (when `FAILWATCH_DATABASE_URL` is set), one HTTP client for
Supabase (Auth admin API and JWKS), the user-token verifier, the e-mail lookup, and
whether this database login may read `auth.users` — asked once, on first use, since a
login's privileges do not change while failwatch runs.
"""

from __future__ import annotations

import httpx
from starlette.requests import Request

from receiver import queries
from receiver.config import Settings
from receiver.queries import Conn, SourceTables
from receiver.source_db import SourceDB
from receiver.supabase_auth import SupabaseAuthAdmin
from receiver.web.user_auth import UserTokenVerifier

_HTTP_TIMEOUT = httpx.Timeout(5.0)


class QueryAPI:
    def __init__(
        self, settings: Settings, *, source: SourceDB | None, http: httpx.AsyncClient
    ) -> None:
        self.settings = settings
        self.source = source
        self.http = http
        self.tables = SourceTables(schema=settings.source_schema, generations=settings.source_table)
        self.verifier = UserTokenVerifier(
            jwt_secret=settings.supabase_jwt_secret, project_url=settings.supabase_url, http=http
        )
        key = settings.supabase_service_role_key
        self.auth_admin = (
            SupabaseAuthAdmin(project_url=settings.supabase_url, service_role_key=key, http=http)
            if settings.supabase_url and key is not None
            else None
        )
        self._auth_users_readable: bool | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryAPI:
        url = settings.database_url
        source = SourceDB(url.get_secret_value()) if url is not None else None
        http = httpx.AsyncClient(timeout=_HTTP_TIMEOUT, follow_redirects=False)
        return cls(settings, source=source, http=http)

    async def close(self) -> None:
        await self.http.aclose()
        if self.source is not None:
            await self.source.close()

    async def auth_users_readable(self, conn: Conn) -> bool:
        if self._auth_users_readable is None:
            self._auth_users_readable = await queries.auth_users_readable(conn)
        return self._auth_users_readable


def query_api_of(request: Request) -> QueryAPI:
    api: QueryAPI = request.app.state.query_api
    return api
