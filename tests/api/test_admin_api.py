"""`GET /api/admin/failed-generations` against real PostgreSQL: every number equals what
the guide's own queries say about the same rows."""

from __future__ import annotations

import socket
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from receiver.supabase.pool import SourceDB
from receiver.web.app import create_app
from tests.api import guide_sql
from tests.api.seed import EMAILS, PROJECTS, SESSIONS, USERS, Seeded
from tests.api.support import ADMIN_TOKEN, admin_headers, api_settings
from tests.asgi import serving

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

URL = "/api/admin/failed-generations"


async def _guide_rows(dsn: str, query: str) -> list[dict[str, Any]]:
    async with await psycopg.AsyncConnection.connect(dsn, row_factory=dict_row) as conn:
        return list(await (await conn.execute(query)).fetchall())


class GuideView:
    """What the guide's queries 1, 3, 5 and 7 say for one window."""

    def __init__(self, failed: list[dict[str, Any]], stuck: list[dict[str, Any]]) -> None:
        self.failed = failed
        self.stuck = stuck

    @classmethod
    async def load(cls, dsn: str, hours: int) -> GuideView:
        failed = await _guide_rows(dsn, guide_sql.within(guide_sql.Q1_FAILED_24H, hours))
        # The guide's stuck query has no window; the API applies `hoursAgo` to it too.
        stuck = [
            row
            for row in await _guide_rows(dsn, guide_sql.Q3_STUCK)
            if row["age_minutes"] < hours * 60
        ]
        return cls(failed, stuck)


def _expected_rows(view: GuideView, status: str, user_id: str | None) -> list[dict[str, Any]]:
    rows = []
    if status in ("all", "failed"):
        rows += [dict(row, kind="failed") for row in view.failed]
    if status in ("all", "stuck"):
        rows += [dict(row, kind="stuck") for row in view.stuck]
    if user_id is not None:
        rows = [row for row in rows if row["user_id"] == user_id]
    # Failures newest first (query 1); stuck alone oldest first (query 3).
    rows.sort(key=lambda row: row["created_at"], reverse=status != "stuck")
    return rows


def _parsed(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("status", "hours", "user_index", "limit"),
    [
        ("all", 24, None, 100),
        ("failed", 24, None, 100),
        ("stuck", 24, None, 100),
        ("all", 1, None, 100),
        ("all", 48, None, 100),
        ("failed", 168, None, 100),
        ("stuck", 720, None, 100),
        ("all", 720, None, 1000),
        ("all", 720, 2, 100),
        ("failed", 168, 0, 100),
        ("all", 720, None, 4),
    ],
)
async def test_numbers_match_the_guides_queries(
    source: Seeded, tmp_path: Path, status: str, hours: int, user_index: int | None, limit: int
) -> None:
    user_id = USERS[user_index] if user_index is not None else None
    params: dict[str, str | int] = {"status": status, "hoursAgo": hours, "limit": limit}
    if user_id is not None:
        params["userId"] = user_id
    async with serving(create_app(api_settings(tmp_path, source))) as client:
        started = time.monotonic()
        response = await client.get(URL, params=params, headers=admin_headers())
        view = await GuideView.load(source.dsn, hours)
        elapsed_minutes = (time.monotonic() - started) / 60
    assert response.status_code == 200, response.text
    body = response.json()
    expected = _expected_rows(view, status, user_id)
    assert len(expected) > 0  # the seed covers every case asked about here

    assert body["total"] == len(expected)
    kinds = Counter(row["kind"] for row in expected)
    users = {row["user_id"] for row in expected if row["user_id"] is not None}
    assert body["summary"] == {
        "failed": kinds["failed"],
        "stuck": kinds["stuck"],
        "affectedUsers": len(users),
    }
    assert body["emailsFrom"] == "auth.users"
    assert (body["status"], body["hoursAgo"], body["limit"]) == (status, hours, limit)

    _check_by_user(body["byUser"], expected, limit)
    error_types = {
        row["id"]: row["error_type"]
        for row in await _guide_rows(source.dsn, guide_sql.Q5_ERROR_TYPES)
    }
    emails = {
        row["generation_id"]: row["user_email"]
        for row in await _guide_rows(source.dsn, guide_sql.within(guide_sql.Q7_EMAILS_24H, hours))
    }
    assert [g["id"] for g in body["generations"]] == [row["id"] for row in expected][:limit]
    for got, want in zip(body["generations"], expected, strict=False):
        _check_generation(got, want, error_types, emails, elapsed_minutes)


def _check_by_user(got: list[dict[str, Any]], expected: list[dict[str, Any]], limit: int) -> None:
    counts: dict[str | None, Counter[str]] = {}
    names: dict[str | None, tuple[str | None, str | None]] = {}
    for row in expected:
        counts.setdefault(row["user_id"], Counter())[row["kind"]] += 1
        names[row["user_id"]] = (row["user_display_name"], row["username"])
    order = sorted(counts, key=lambda u: (-sum(counts[u].values()), u is None, u or ""))
    want = [
        {
            "id": user,
            "email": EMAILS.get(user) if user is not None else None,
            "displayName": names[user][0],
            "username": names[user][1],
            "total": sum(counts[user].values()),
            "failed": counts[user]["failed"],
            "stuck": counts[user]["stuck"],
        }
        for user in order
    ][:limit]
    assert got == want


def _check_generation(
    got: dict[str, Any],
    want: dict[str, Any],
    error_types: dict[str, str],
    emails: dict[str, str | None],
    elapsed_minutes: float,
) -> None:
    assert got["kind"] == want["kind"]
    assert got["status"] == want["status"]
    assert _parsed(got["createdAt"]) == want["created_at"]
    assert got["modelId"] == want["model_id"]
    assert got["user"]["id"] == want["user_id"]
    assert got["user"]["displayName"] == want["user_display_name"]
    assert got["user"]["username"] == want["username"]
    assert got["errorType"] == error_types.get(want["id"])
    if want["kind"] == "failed":
        assert got["errorMessage"] == want["error_message"]
        assert got["sessionName"] == want["session_name"]
        assert got["projectName"] == want["project_name"]
        assert got["user"]["email"] == emails[want["id"]]
        assert got["ageMinutes"] is None
    else:
        # Query 3 has no error, session or e-mail columns: the seed is the reference.
        session = SESSIONS.get(got["sessionId"]) if got["sessionId"] else None
        assert got["sessionName"] == (session[0] if session else None)
        assert got["projectName"] == (PROJECTS[session[1]] if session and session[1] else None)
        assert got["user"]["email"] == EMAILS.get(want["user_id"] or "")
        assert got["errorMessage"] is None
        # Both computed from now(), moments apart; the API rounds to 2 decimals.
        assert abs(got["ageMinutes"] - float(want["age_minutes"])) <= elapsed_minutes + 0.006


async def test_counts_cover_every_row_while_lists_stop_at_the_limit(
    source: Seeded, tmp_path: Path
) -> None:
    async with serving(create_app(api_settings(tmp_path, source))) as client:
        small = await client.get(URL, params={"hoursAgo": 720, "limit": 2}, headers=admin_headers())
        large = await client.get(URL, params={"hoursAgo": 720}, headers=admin_headers())
    assert (small.status_code, large.status_code) == (200, 200)
    assert len(small.json()["generations"]) == len(small.json()["byUser"]) == 2
    assert small.json()["total"] == large.json()["total"] > 2
    assert small.json()["summary"] == large.json()["summary"]
    assert small.json()["generations"] == large.json()["generations"][:2]


async def test_stuck_follows_the_configured_threshold(source: Seeded, tmp_path: Path) -> None:
    settings = api_settings(tmp_path, source, stuck_after="1m")
    async with serving(create_app(settings)) as client:
        response = await client.get(URL, params={"status": "stuck"}, headers=admin_headers())
    ages = [
        row.age_seconds / 60
        for row in source.rows
        if row.status == "processing" and 1 < row.age_seconds / 60 < 24 * 60
    ]
    assert response.json()["stuckAfterMinutes"] == 1.0
    assert response.json()["summary"]["stuck"] == len(ages)
    assert any(age < 10 for age in ages)  # more rows than at the default 10 minutes


# --- who may ask -------------------------------------------------------------------


@pytest.mark.parametrize("path", [URL, "/api/admin/failure-stats"])
async def test_admin_endpoints_refuse_without_or_with_a_wrong_token(
    source: Seeded, tmp_path: Path, path: str
) -> None:
    async with serving(create_app(api_settings(tmp_path, source))) as client:
        missing = await client.get(path)
        basic = await client.get(path, headers={"authorization": f"Basic {ADMIN_TOKEN}"})
        wrong = await client.get(path, headers={"authorization": "Bearer not-the-token"})
        prefix = await client.get(path, headers={"authorization": f"Bearer {ADMIN_TOKEN[:-1]}"})
        right = await client.get(path, headers=admin_headers())
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert basic.status_code == 401
    assert wrong.status_code == 403
    assert prefix.status_code == 403
    assert right.status_code == 200
    for refused in (missing, basic, wrong, prefix):
        assert "generations" not in refused.json()
        assert "models" not in refused.json()
        assert ADMIN_TOKEN not in refused.text


async def test_admin_api_is_off_without_a_configured_token(source: Seeded, tmp_path: Path) -> None:
    settings = api_settings(tmp_path, source, admin_token=None)
    async with serving(create_app(settings)) as client:
        response = await client.get(URL, headers={"authorization": "Bearer anything"})
    assert response.status_code == 404
    assert "FAILWATCH_ADMIN_TOKEN" in response.json()["error"]


# --- configuration and availability ------------------------------------------------


@pytest.mark.parametrize("path", [URL, "/api/admin/failure-stats"])
async def test_without_a_source_database_the_answer_says_how_to_enable_it(
    tmp_path: Path, path: str
) -> None:
    async with serving(create_app(api_settings(tmp_path, None))) as client:
        response = await client.get(path, headers=admin_headers())
    assert response.status_code == 404
    assert "FAILWATCH_DATABASE_URL" in response.json()["error"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("path", [URL, "/api/admin/failure-stats"])
async def test_a_source_database_that_is_down_is_a_503(tmp_path: Path, path: str) -> None:
    down = f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres"
    app = create_app(api_settings(tmp_path, None, database_url=down))
    # The same pool with a shorter wait, so the test does not sit out the default 5 s.
    app.state.supabase.source = SourceDB(down, timeout=0.5)
    async with serving(app) as client:
        response = await client.get(path, headers=admin_headers())
    assert response.status_code == 503
    assert response.json() == {"error": "source database unavailable", "parameter": None}


async def test_a_source_without_the_guides_tables_is_a_503_not_a_crash(
    source: Seeded, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = api_settings(tmp_path, source, source_schema="no_such_schema")
    async with serving(create_app(settings)) as client:
        response = await client.get(URL, headers=admin_headers())
    assert response.status_code == 503
    failed = [r for r in caplog.records if r.getMessage() == "source database query failed"]
    assert [getattr(r, "error", None) for r in failed] == ["UndefinedTable"]


# --- parameters --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("status=broken", "status"),
        ("status=FAILED", "status"),
        ("hoursAgo=0", "hoursAgo"),
        ("hoursAgo=721", "hoursAgo"),
        ("hoursAgo=-1", "hoursAgo"),
        ("hoursAgo=1.5", "hoursAgo"),
        ("hoursAgo=%2024", "hoursAgo"),
        ("hoursAgo=", "hoursAgo"),
        ("hoursAgo=1e2", "hoursAgo"),
        ("hoursAgo=%D9%A3", "hoursAgo"),  # an Arabic-Indic digit three
        ("hoursAgo=1&hoursAgo=2", "hoursAgo"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=99999999999999999999", "limit"),
        ("userId=", "userId"),
        ("userId=" + "a" * 129, "userId"),
        ("userId=a%00b", "userId"),
        ("userId=a%0Ab", "userId"),
    ],
)
async def test_bad_parameters_are_a_400_naming_them(
    source: Seeded, tmp_path: Path, query: str, parameter: str
) -> None:
    async with serving(create_app(api_settings(tmp_path, source))) as client:
        response = await client.get(f"{URL}?{query}", headers=admin_headers())
    assert response.status_code == 400
    assert response.json()["parameter"] == parameter
    assert response.json()["error"].startswith(f"{parameter}: ")
