"""`GET /api/generations/failed`: a user's own failures, and nobody else's."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.rows import dict_row

from receiver.web.app import create_app
from tests.api import guide_sql
from tests.api.seed import LEGACY_USER, SESSIONS, USERS, Seeded
from tests.api.support import (
    JWT_SECRET,
    api_settings,
    blocking_client,
    user_headers,
    user_token,
)
from tests.asgi import serving

pytestmark = pytest.mark.postgres

URL = "/api/generations/failed"


async def _guide_own_failures(dsn: str, user_id: str) -> tuple[datetime, list[dict[str, Any]]]:
    async with await psycopg.AsyncConnection.connect(dsn, row_factory=dict_row) as conn:
        now: datetime = (await (await conn.execute("SELECT now() AS now")).fetchone() or {})["now"]
        rows = await conn.execute(guide_sql.by_user(), {"user_id": user_id})
        return now, list(await rows.fetchall())


@pytest.mark.anyio
@pytest.mark.parametrize("user_id", [*USERS, LEGACY_USER])
@pytest.mark.parametrize("hours", [24, 720])
async def test_own_failures_match_the_guides_per_user_query(
    source: Seeded, tmp_path: Path, user_id: str, hours: int
) -> None:
    async with serving(create_app(api_settings(tmp_path, source))) as client:
        response = await client.get(URL, params={"hoursAgo": hours}, headers=user_headers(user_id))
    now, guide = await _guide_own_failures(source.dsn, user_id)
    # The guide's query 2 has no window (and stops at 50, more than anyone has here).
    assert len(guide) < 50
    expected = [row for row in guide if row["created_at"] >= now - timedelta(hours=hours)]
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(expected)
    assert [g["id"] for g in body["generations"]] == [row["id"] for row in expected]
    for got, want in zip(body["generations"], expected, strict=True):
        assert got["errorMessage"] == want["error_message"]
        assert got["prompt"] == want["prompt"]
        assert got["modelId"] == want["model_id"]
        assert datetime.fromisoformat(got["createdAt"]) == want["created_at"]
        session = SESSIONS.get(got["sessionId"] or "")
        assert got["sessionName"] == (session[0] if session else None)


@pytest.mark.anyio
async def test_session_filter_and_limit(source: Seeded, tmp_path: Path) -> None:
    owner = USERS[0]
    async with serving(create_app(api_settings(tmp_path, source))) as client:
        everything = await client.get(URL, params={"hoursAgo": 720}, headers=user_headers(owner))
        by_session = {
            session: await client.get(
                URL, params={"hoursAgo": 720, "sessionId": session}, headers=user_headers(owner)
            )
            for session in source.sessions_of(owner)
        }
        limited = await client.get(
            URL, params={"hoursAgo": 720, "limit": 1}, headers=user_headers(owner)
        )
    all_rows = everything.json()["generations"]
    for session, response in by_session.items():
        assert response.json()["generations"] == [g for g in all_rows if g["sessionId"] == session]
    assert sum(r.json()["total"] for r in by_session.values()) <= everything.json()["total"]
    assert limited.json()["generations"] == all_rows[:1]
    assert limited.json()["total"] == everything.json()["total"] > 1


# --- tokens ------------------------------------------------------------------------


def _none_token(sub: str) -> str:
    payload = {"sub": sub, "aud": "authenticated", "exp": int(time.time()) + 3600}
    # PyJWT signs "none" with an empty key; no key is involved at all.
    return jwt.encode(payload, "", algorithm="none")


REJECTED_TOKENS: dict[str, Callable[[str], str]] = {
    "forged": lambda sub: user_token(sub, secret="another-projects-secret-of-32-chars-or-more"),
    "expired": lambda sub: user_token(sub, expires_in=-3600),
    "wrong audience": lambda sub: user_token(sub, audience="anon"),
    "no audience": lambda sub: user_token(sub, audience=None),
    "no expiry": lambda sub: user_token(sub, expires_in=None),
    "alg none": _none_token,
    "alg none, no signature dot": lambda sub: _none_token(sub).rstrip("."),
    "tampered payload": lambda sub: _swap_payload(user_token(sub), user_token(USERS[1])),
    "garbage": lambda sub: "not.a.jwt",
    "empty sub": lambda sub: user_token(""),
    # A NUL in the subject reached the source database's query (503 there).
    "NUL in sub": lambda sub: user_token(sub + "\x00"),
    "surrogate in sub": lambda sub: user_token(sub + "\ud800"),
    "newline in sub": lambda sub: user_token(sub + "\n"),
    "HS384": lambda sub: jwt.encode(
        {"sub": sub, "aud": "authenticated", "exp": int(time.time()) + 60},
        JWT_SECRET,
        algorithm="HS384",
    ),
}


def _swap_payload(token: str, other: str) -> str:
    header, _, signature = token.split(".")
    return ".".join([header, other.split(".")[1], signature])


@pytest.mark.anyio
@pytest.mark.parametrize("kind", list(REJECTED_TOKENS))
async def test_tokens_that_prove_nothing_are_401(source: Seeded, tmp_path: Path, kind: str) -> None:
    token = REJECTED_TOKENS[kind](USERS[0])
    async with serving(create_app(api_settings(tmp_path, source))) as client:
        response = await client.get(URL, headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert "generations" not in response.json()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Basic dXNlcjpwdw=="}, {"authorization": "Bearer "}],
)
async def test_no_token_is_401(source: Seeded, tmp_path: Path, headers: dict[str, str]) -> None:
    async with serving(create_app(api_settings(tmp_path, source))) as client:
        response = await client.get(URL, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.anyio
async def test_a_token_with_non_ascii_bytes_is_401(source: Seeded, tmp_path: Path) -> None:
    async with serving(create_app(api_settings(tmp_path, source))) as client:
        response = await client.get(URL, headers={b"authorization": b"Bearer ab\xffcd"})
    assert response.status_code == 401


@pytest.mark.anyio
async def test_user_endpoint_is_off_without_any_way_to_verify_tokens(
    source: Seeded, tmp_path: Path
) -> None:
    settings_ = api_settings(tmp_path, source, supabase_jwt_secret=None)
    async with serving(create_app(settings_)) as client:
        response = await client.get(URL, headers=user_headers(USERS[0]))
    assert response.status_code == 404
    assert "FAILWATCH_SUPABASE_JWT_SECRET" in response.json()["error"]


@pytest.mark.anyio
async def test_user_endpoint_without_a_source_database_is_404(tmp_path: Path) -> None:
    async with serving(create_app(api_settings(tmp_path, None))) as client:
        response = await client.get(URL, headers=user_headers(USERS[0]))
    assert response.status_code == 404
    assert "FAILWATCH_DATABASE_URL" in response.json()["error"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("query", "parameter"),
    [("hoursAgo=0", "hoursAgo"), ("limit=abc", "limit"), ("sessionId=", "sessionId")],
)
async def test_bad_parameters_are_400(
    source: Seeded, tmp_path: Path, query: str, parameter: str
) -> None:
    async with serving(create_app(api_settings(tmp_path, source))) as client:
        response = await client.get(f"{URL}?{query}", headers=user_headers(USERS[0]))
    assert (response.status_code, response.json()["parameter"]) == (400, parameter)


# --- isolation -----------------------------------------------------------------------

OWNERS = [*USERS, LEGACY_USER]
ALL_SESSIONS = list(SESSIONS)


def _expected_ids(source: Seeded, owner: str, hours: int, session: str | None) -> list[str]:
    rows = [
        row
        for row in source.rows
        if row.user_id == owner
        and row.status == "failed"
        and row.age_seconds < hours * 3600
        and (session is None or row.session_id == session)
    ]
    # Oldest last: a larger age is an earlier created_at.
    return [row.id for row in sorted(rows, key=lambda row: row.age_seconds)]


def test_a_user_never_sees_another_users_rows(source: Seeded, tmp_path: Path) -> None:
    owner_of = {row.id: row.user_id for row in source.rows}

    with blocking_client(create_app(api_settings(tmp_path, source))) as client:

        @settings(
            max_examples=100,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(
            caller=st.sampled_from(OWNERS),
            # Mostly valid values (so rows come back), with bad ones mixed in.
            hours=st.one_of(
                st.integers(1, 720), st.integers(1, 60), st.integers(-5, 2000), st.text(max_size=4)
            ),
            session=st.one_of(
                st.none(), st.sampled_from(ALL_SESSIONS), st.sampled_from(ALL_SESSIONS), st.text()
            ),
            limit=st.one_of(st.none(), st.integers(1, 10), st.integers(-3, 5000)),
        )
        def check(caller: str, hours: int | str, session: str | None, limit: int | None) -> None:
            query: dict[str, Any] = {"hoursAgo": hours}
            if session is not None:
                query["sessionId"] = session
            if limit is not None:
                query["limit"] = limit
            response = client.get(URL, params=query, headers=user_headers(caller))
            assert response.status_code in (200, 400), response.text
            if response.status_code == 400:
                return
            ids = [g["id"] for g in response.json()["generations"]]
            assert all(owner_of[i] == caller for i in ids)
            # Only whole numbers in ASCII digits are accepted (a text like "7" is one).
            assert isinstance(hours, int) or (hours.isascii() and hours.isdigit())
            hours_value = int(hours)
            expected = _expected_ids(source, caller, hours_value, session)
            assert ids == expected[: limit or 50]
            assert response.json()["total"] == len(expected)

        check()


def test_the_token_subject_is_a_parameter_like_any_other(source: Seeded, tmp_path: Path) -> None:
    tricky = ["' OR '1'='1", f"{USERS[0]}' OR user_id <> '", "%", "_", f"{USERS[0]} "]
    with blocking_client(create_app(api_settings(tmp_path, source))) as client:
        for sub in tricky:
            response = client.get(URL, params={"hoursAgo": 720}, headers=user_headers(sub))
            assert response.status_code == 200
            assert response.json()["total"] == 0


# --- browsers ------------------------------------------------------------------------

ORIGIN = "https://app.example.com"


def test_cors_lets_configured_origins_read_the_user_endpoint(
    source: Seeded, tmp_path: Path
) -> None:
    app = create_app(api_settings(tmp_path, source, cors_origins=f"{ORIGIN}, https://b.example"))
    preflight_headers = {
        "origin": ORIGIN,
        "access-control-request-method": "GET",
        "access-control-request-headers": "authorization",
    }
    with blocking_client(app) as client:
        preflight = client.options(URL, headers=preflight_headers)
        read = client.get(URL, headers={**user_headers(USERS[0]), "origin": ORIGIN})
        refused = client.get(URL, headers={"origin": ORIGIN})
        stranger = client.get(
            URL, headers={**user_headers(USERS[0]), "origin": "https://evil.example"}
        )
        admin_preflight = client.options("/api/admin/failed-generations", headers=preflight_headers)
        plain_options = client.options(URL)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert read.status_code == 200
    assert read.headers["access-control-allow-origin"] == ORIGIN
    assert refused.status_code == 401  # the browser may read why
    assert refused.headers["access-control-allow-origin"] == ORIGIN
    assert "access-control-allow-origin" not in stranger.headers
    assert admin_preflight.status_code == 405
    assert "access-control-allow-origin" not in admin_preflight.headers
    assert plain_options.status_code == 204


def test_without_cors_origins_there_are_no_cors_headers(source: Seeded, tmp_path: Path) -> None:
    with blocking_client(create_app(api_settings(tmp_path, source))) as client:
        read = client.get(URL, headers={**user_headers(USERS[0]), "origin": ORIGIN})
        preflight = client.options(
            URL, headers={"origin": ORIGIN, "access-control-request-method": "GET"}
        )
    assert read.status_code == 200
    assert "access-control-allow-origin" not in read.headers
    assert preflight.status_code == 405


def test_timestamps_are_utc(source: Seeded, tmp_path: Path) -> None:
    with blocking_client(create_app(api_settings(tmp_path, source))) as client:
        body = client.get(URL, params={"hoursAgo": 720}, headers=user_headers(USERS[1])).json()
    stamps = [datetime.fromisoformat(g["createdAt"]) for g in body["generations"]]
    assert stamps
    assert all(stamp.utcoffset() == UTC.utcoffset(None) for stamp in stamps)
