"""E-mails from Supabase's Auth admin API when the connection may not read `auth.users`:
against a loopback stand-in answering as Supabase does."""

from __future__ import annotations

import json
import logging
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from pydantic import SecretStr

from receiver.config.settings import Settings
from receiver.logs import JSONFormatter
from receiver.supabase.auth_admin import SupabaseAuthAdmin
from receiver.web.app import create_app
from tests.api.seed import EMAILS, LEGACY_USER, USERS, Seeded
from tests.api.support import admin_headers, api_settings
from tests.asgi import serving
from tests.postgres import ADMIN_DSN
from tests.standins.supabase_auth import USERS_PREFIX, SupabaseAuthStandIn
from tests.standins.supabase_auth import serving as standing

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

URL = "/api/admin/failed-generations"
SERVICE_KEY = "service-role-key-for-tests-" + "x" * 20
# What the stand-in knows: most users, one with a different address than auth.users.
KNOWN = {USERS[0]: "ada@auth.example", USERS[1]: "grace@auth.example", USERS[2]: None}


@pytest.fixture(scope="module")
def limited_dsn(source: Seeded) -> Iterator[str]:
    """A login that may read the guide's public tables but not `auth.users`, as an app's
    own database role typically is."""
    role = f"fw_api_reader_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        with psycopg.connect(source.dsn, autocommit=True) as conn:
            conn.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
            conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
        user_dsn = source.dsn.replace("postgresql://postgres@", f"postgresql://{role}@")
        yield user_dsn
    finally:
        with psycopg.connect(source.dsn, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture
def stand_in() -> Iterator[SupabaseAuthStandIn]:
    with standing(SupabaseAuthStandIn(service_role_key=SERVICE_KEY, users=dict(KNOWN))) as server:
        yield server


def _settings(
    tmp_path: Path, source: Seeded, dsn: str, url: str, key: str = SERVICE_KEY
) -> Settings:
    return api_settings(
        tmp_path,
        source,
        database_url=dsn,
        supabase_url=url,
        supabase_service_role_key=key,
    )


async def test_emails_come_from_the_auth_admin_api_when_auth_users_is_hidden(
    source: Seeded, limited_dsn: str, stand_in: SupabaseAuthStandIn, tmp_path: Path
) -> None:
    app = create_app(_settings(tmp_path, source, limited_dsn, stand_in.url))
    async with serving(app) as client:
        first = await client.get(URL, params={"hoursAgo": 720}, headers=admin_headers())
        lookups = len(stand_in.requests_to(USERS_PREFIX))
        second = await client.get(URL, params={"hoursAgo": 720}, headers=admin_headers())
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["emailsFrom"] == "auth_api"
    emails = {user["id"]: user["email"] for user in body["byUser"]}
    assert set(emails) >= {*USERS, LEGACY_USER}
    for user_id, email in emails.items():
        assert email == KNOWN.get(user_id or ""), user_id  # unknown and blank → null
    for generation in body["generations"]:
        assert generation["user"]["email"] == KNOWN.get(generation["user"]["id"] or "")
    # Only canonical UUIDs are looked up, each once, with the service key in both headers.
    asked = stand_in.requests_to(USERS_PREFIX)
    assert sorted(r.path.removeprefix(USERS_PREFIX) for r in asked) == sorted(USERS)
    assert all(r.headers["apikey"] == SERVICE_KEY for r in asked)
    assert all(r.headers["authorization"] == f"Bearer {SERVICE_KEY}" for r in asked)
    # Found and not-found answers are cached.
    assert lookups == len(USERS)
    assert len(stand_in.requests_to(USERS_PREFIX)) == lookups
    assert second.json()["byUser"] == body["byUser"]


async def test_without_the_auth_admin_api_emails_are_null(
    source: Seeded, limited_dsn: str, tmp_path: Path
) -> None:
    settings = api_settings(tmp_path, source, database_url=limited_dsn)
    async with serving(create_app(settings)) as client:
        response = await client.get(URL, params={"hoursAgo": 720}, headers=admin_headers())
    assert response.status_code == 200
    assert response.json()["emailsFrom"] is None
    assert {user["email"] for user in response.json()["byUser"]} == {None}


async def test_a_reader_of_auth_users_needs_no_api(
    source: Seeded, stand_in: SupabaseAuthStandIn, tmp_path: Path
) -> None:
    app = create_app(_settings(tmp_path, source, source.dsn, stand_in.url))
    async with serving(app) as client:
        response = await client.get(URL, params={"hoursAgo": 720}, headers=admin_headers())
    assert response.json()["emailsFrom"] == "auth.users"
    assert {u["id"]: u["email"] for u in response.json()["byUser"] if u["id"] in EMAILS} == EMAILS
    assert stand_in.requests == []


@pytest.mark.parametrize(
    ("key", "status"),
    [("not-a-key-supabase-knows", 401), ("anon-key-not-admin", 403)],
)
async def test_a_refused_key_leaves_emails_null_and_stays_out_of_the_logs(
    source: Seeded,
    limited_dsn: str,
    stand_in: SupabaseAuthStandIn,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    key: str,
    status: int,
) -> None:
    caplog.set_level(logging.DEBUG)
    app = create_app(_settings(tmp_path, source, limited_dsn, stand_in.url, key))
    async with serving(app) as client:
        response = await client.get(URL, params={"hoursAgo": 720}, headers=admin_headers())
    assert response.status_code == 200
    assert {user["email"] for user in response.json()["byUser"]} == {None}
    # One batch was tried, then the rest skipped: every call would be refused alike.
    assert 0 < len(stand_in.requests_to(USERS_PREFIX)) <= 8
    refusals = [r for r in caplog.records if "refused the service-role key" in r.getMessage()]
    assert refusals
    assert {getattr(r, "status", None) for r in refusals} == {status}
    logged = "\n".join(JSONFormatter().format(record) for record in caplog.records)
    assert key not in logged
    assert SERVICE_KEY not in logged


async def test_an_unreachable_auth_api_leaves_emails_null(
    source: Seeded, limited_dsn: str, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(_settings(tmp_path, source, limited_dsn, closed))
    async with serving(app) as client:
        response = await client.get(URL, params={"hoursAgo": 720}, headers=admin_headers())
    assert response.status_code == 200
    assert response.json()["emailsFrom"] == "auth_api"
    assert {user["email"] for user in response.json()["byUser"]} == {None}


async def test_lookups_are_cached_until_the_ttl_runs_out(stand_in: SupabaseAuthStandIn) -> None:
    now = [1000.0]
    async with httpx.AsyncClient() as http:
        client = SupabaseAuthAdmin(
            project_url=stand_in.url + "/",
            service_role_key=SecretStr(SERVICE_KEY),
            http=http,
            ttl=60,
            clock=lambda: now[0],
        )
        ids = [USERS[0], USERS[5], "not-a-uuid", USERS[0].upper()]
        first = await client.emails(ids)
        now[0] += 59
        await client.emails(ids)
        asked_before_expiry = len(stand_in.requests_to(USERS_PREFIX))
        stand_in.users[USERS[5]] = "new@example.com"
        now[0] += 2
        refreshed = await client.emails(ids)
    assert first == {
        USERS[0]: KNOWN[USERS[0]],
        USERS[5]: None,
        "not-a-uuid": None,
        USERS[0].upper(): KNOWN[USERS[0]],
    }
    assert asked_before_expiry == 2  # the upper-case spelling is the same user
    assert refreshed[USERS[5]] == "new@example.com"
    assert len(stand_in.requests_to(USERS_PREFIX)) == 4


async def test_a_gateway_404_is_not_taken_for_an_unknown_user(
    stand_in: SupabaseAuthStandIn,
) -> None:
    async with httpx.AsyncClient() as http:
        # A wrong project path: the gateway's 404 says nothing about the user.
        client = SupabaseAuthAdmin(
            project_url=stand_in.url + "/wrong", service_role_key=SecretStr(SERVICE_KEY), http=http
        )
        assert await client.emails([USERS[0]]) == {USERS[0]: None}
        stand_in.requests.clear()
        assert await client.emails([USERS[0]]) == {USERS[0]: None}
    assert len(stand_in.requests) == 1  # not cached: it was not an answer about the user


def test_stand_in_answers_like_supabase(stand_in: SupabaseAuthStandIn) -> None:
    def get(user_id: str, key: str | None, bearer: str | None) -> tuple[int, dict[str, object]]:
        headers = {}
        if key is not None:
            headers["apikey"] = key
        if bearer is not None:
            headers["authorization"] = f"Bearer {bearer}"
        response = httpx.get(stand_in.url + USERS_PREFIX + user_id, headers=headers)
        return response.status_code, json.loads(response.text)

    assert get(USERS[0], None, None)[0] == 401
    assert get(USERS[0], "anon-key-not-admin", "anon-key-not-admin")[1]["error_code"] == "not_admin"
    assert get(USERS[5], SERVICE_KEY, SERVICE_KEY)[1]["error_code"] == "user_not_found"
    assert get(USERS[0], SERVICE_KEY, SERVICE_KEY) == (
        200,
        {
            "id": USERS[0],
            "aud": "authenticated",
            "role": "authenticated",
            "email": KNOWN[USERS[0]],
            "phone": "",
            "app_metadata": {"provider": "email"},
            "user_metadata": {},
        },
    )
