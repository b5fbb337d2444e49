"""The connections to Supabase, made once per process and shared by everything that
needs them: the source database pool (when `FAILWATCH_DATABASE_URL` is set) used by the
sweeps and the guide's API, one HTTP client for the Auth admin API and the JWKS, the
user-token verifier, and the Auth admin lookup of users' e-mails.
"""

from __future__ import annotations

import httpx

from receiver.config.settings import Settings
from receiver.supabase import queries
from receiver.supabase.auth_admin import SupabaseAuthAdmin
from receiver.supabase.jwt import UserTokenVerifier
from receiver.supabase.pool import SourceDB
from receiver.supabase.queries import Conn, SourceTables

_HTTP_TIMEOUT = httpx.Timeout(5.0)


class SupabaseClients:
    def __init__(
        self, settings: Settings, *, source: SourceDB | None, http: httpx.AsyncClient
    ) -> None:
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
        # Whether this database login may read `auth.users`: asked once, on first use,
        # since a login's privileges do not change while failwatch runs.
        self._auth_users_readable: bool | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SupabaseClients:
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
