"""The admin API for silences and the dead letter, through the ASGI app."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from starlette.applications import Starlette

from receiver.config.settings import load_settings
from receiver.timefmt import iso
from receiver.web.app import create_app
from tests.asgi import serving
from tests.loops.harness import Recorder

pytestmark = pytest.mark.anyio
ADMIN = {"Authorization": "Bearer admin-t0ken"}


def app(tmp_path: Path) -> Starlette:
    settings = load_settings(state_url=f"sqlite:///{tmp_path}/fw.db", admin_token="admin-t0ken")
    return create_app(settings, notifiers={("default", "console"): Recorder()})


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/admin/silences"),
        ("POST", "/api/admin/silences"),
        ("DELETE", "/api/admin/silences/x"),
        ("GET", "/api/admin/outbox"),
        ("POST", "/api/admin/outbox/retry"),
    ],
)
async def test_admin_endpoints_need_the_token(tmp_path: Path, method: str, path: str) -> None:
    async with serving(app(tmp_path)) as client:
        missing = await client.request(method, path)
        wrong = await client.request(method, path, headers={"Authorization": "Bearer nope"})
    assert (missing.status_code, wrong.status_code) == (401, 403)


async def test_admin_api_is_closed_without_a_configured_token(tmp_path: Path) -> None:
    settings = load_settings(state_url=f"sqlite:///{tmp_path}/fw.db")
    async with serving(create_app(settings)) as client:
        response = await client.get("/api/admin/silences", headers=ADMIN)
    assert response.status_code == 404
    assert "FAILWATCH_ADMIN_TOKEN" in response.json()["error"]


async def test_silence_lifecycle(tmp_path: Path) -> None:
    ends = iso(float(int(time.time()) + 86400))
    async with serving(app(tmp_path)) as client:
        created = await client.post(
            "/api/admin/silences",
            headers=ADMIN,
            json={
                "matchers": ["model_id=flux-pro"],
                "endsAt": ends,
                "comment": "provider outage",
                "author": "oncall",
            },
        )
        assert created.status_code == 201
        body = created.json()
        assert (body["matchers"], body["state"], body["endsAt"]) == (
            ['model_id="flux-pro"'],
            "active",
            ends,
        )
        listed = await client.get("/api/admin/silences", headers=ADMIN)
        assert [s["id"] for s in listed.json()["silences"]] == [body["id"]]
        gone = await client.delete(f"/api/admin/silences/{body['id']}", headers=ADMIN)
        again = await client.delete(f"/api/admin/silences/{body['id']}", headers=ADMIN)
        assert (gone.status_code, again.status_code) == (200, 404)
        listed = await client.get("/api/admin/silences", headers=ADMIN)
        assert listed.json()["silences"] == []
        everything = await client.get("/api/admin/silences?expired=true", headers=ADMIN)
        assert [s["state"] for s in everything.json()["silences"]] == ["expired"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{", 400, "JSON"),
        (b"[]", 422, "expected an object"),
        (
            b'{"matchers": [], "endsAt": "2099-01-01T00:00:00Z", "comment": "c", "author": "a"}',
            422,
            "matchers",
        ),
        (
            b'{"matchers": ["nonsense"], "endsAt": "2099-01-01T00:00:00Z", "comment": "c", '
            b'"author": "a"}',
            422,
            "not a matcher",
        ),
        (b'{"matchers": ["a=b"], "comment": "c", "author": "a"}', 422, "endsAt"),
        (
            b'{"matchers": ["a=b"], "endsAt": "yesterday", "comment": "c", "author": "a"}',
            422,
            "endsAt",
        ),
        (
            b'{"matchers": ["a=b"], "endsAt": "2001-01-01T00:00:00Z", "comment": "c", '
            b'"author": "a"}',
            422,
            "future",
        ),
        (
            b'{"matchers": ["a=~\\"(\\""], "endsAt": "2099-01-01T00:00:00Z", "comment": "c", '
            b'"author": "a"}',
            422,
            "regex",
        ),
        (
            b'{"matchers": ["a=b"], "endsAt": "2099-01-01T00:00:00Z", "comment": "", '
            b'"author": "a"}',
            422,
            "comment",
        ),
    ],
)
async def test_bad_silences_are_refused_and_change_nothing(
    tmp_path: Path, body: bytes, status: int, needle: str
) -> None:
    async with serving(app(tmp_path)) as client:
        response = await client.post("/api/admin/silences", headers=ADMIN, content=body)
        listed = await client.get("/api/admin/silences?expired=true", headers=ADMIN)
    assert response.status_code == status
    assert needle in response.json()["error"]
    assert listed.json()["silences"] == []


async def test_outbox_listing_and_retry(tmp_path: Path) -> None:
    async with serving(app(tmp_path)) as client:
        empty = await client.get("/api/admin/outbox", headers=ADMIN)
        assert empty.json() == {"notifications": []}
        bad = await client.get("/api/admin/outbox?status=weird", headers=ADMIN)
        assert bad.status_code == 400
        none = await client.post("/api/admin/outbox/7/retry", headers=ADMIN)
        assert none.status_code == 404
        everything = await client.post("/api/admin/outbox/retry", headers=ADMIN)
        assert everything.json() == {"requeued": 0}


@pytest.mark.parametrize("outbox_id", ["9223372036854775808", "-1", "abc", "1e3"])
async def test_out_of_range_outbox_ids_are_not_found(tmp_path: Path, outbox_id: str) -> None:
    async with serving(app(tmp_path)) as client:
        response = await client.post(f"/api/admin/outbox/{outbox_id}/retry", headers=ADMIN)
    assert response.status_code == 404
