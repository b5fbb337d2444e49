"""SQL-injection strings in every parameter change nothing: a 400, or the answer an
ordinary unknown value gets — and the tables are intact afterwards."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from receiver.web.app import create_app
from tests.api.seed import USERS, Seeded
from tests.api.support import admin_headers, api_settings, user_headers
from tests.asgi import serving

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

INJECTIONS = [
    "' OR '1'='1",
    "' OR 1=1 --",
    "1; DROP TABLE generations; --",
    "24; DROP TABLE profiles",
    "x' UNION SELECT id::text, email FROM auth.users --",
    "%' OR user_id LIKE '%",
    "'); DELETE FROM generations; --",
    "$$; DROP TABLE sessions; $$",
    "1) OR (1=1",
    "24 hours' OR 'a'='a",
    "\\'; SELECT pg_sleep(10); --",
    "failed' OR status <> 'failed",
]

# (path, parameter, headers, what an unknown-but-valid value answers)
CASES = [
    ("/api/admin/failed-generations", "status", "admin", None),
    ("/api/admin/failed-generations", "hoursAgo", "admin", None),
    ("/api/admin/failed-generations", "limit", "admin", None),
    ("/api/admin/failed-generations", "userId", "admin", "no-such-user"),
    ("/api/admin/failure-stats", "hoursBack", "admin", None),
    ("/api/generations/failed", "hoursAgo", "user", None),
    ("/api/generations/failed", "limit", "user", None),
    ("/api/generations/failed", "sessionId", "user", "no-such-session"),
]


TABLES = ("generations", "profiles", "sessions", "projects", "auth.users")


def _table_counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        counts = {}
        for table in TABLES:
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.split(".")))
            ).fetchone()
            assert row is not None
            counts[table] = int(row[0])
        return counts


@pytest.mark.parametrize(("path", "parameter", "who", "unknown"), CASES)
async def test_injection_strings_change_nothing(
    source: Seeded, tmp_path: Path, path: str, parameter: str, who: str, unknown: str | None
) -> None:
    before = _table_counts(source.dsn)
    headers = admin_headers() if who == "admin" else user_headers(USERS[0])
    async with serving(create_app(api_settings(tmp_path, source))) as client:
        baseline = None
        if unknown is not None:
            baseline = await client.get(path, params={parameter: unknown}, headers=headers)
            assert baseline.status_code == 200
        for attack in INJECTIONS:
            response = await client.get(path, params={parameter: attack}, headers=headers)
            if unknown is None:
                assert response.status_code == 400, attack
                assert response.json()["parameter"] == parameter
            else:
                assert baseline is not None
                assert response.status_code == 200, attack
                got, want = response.json(), baseline.json()
                got.pop(parameter)  # the echo of the value asked about
                want.pop(parameter)
                assert got == want, attack
    assert _table_counts(source.dsn) == before
