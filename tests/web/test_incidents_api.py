"""The admin API of incidents, through the ASGI app, on a store the test fills."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from receiver.web.app import create_app
from tests.loops.harness import Engine, engine

pytestmark = pytest.mark.anyio
ADMIN = {"Authorization": "Bearer admin-t0ken"}


@asynccontextmanager
async def api(tmp_path: Path) -> AsyncIterator[tuple[Engine, httpx.AsyncClient, str]]:
    """An app on a store holding one incident whose first message went out."""
    async with engine(tmp_path, admin_token="admin-t0ken", resolve_after="10h") as e:
        app = create_app(e.settings, store=e.store, notifiers={}, clock=e.clock)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://failwatch") as client:
            for _ in range(3):
                await e.fail(error="Rate limit exceeded for <!channel>")
            e.clock.advance(31)
            await e.settle()
            listed = (await client.get("/api/admin/incidents", headers=ADMIN)).json()
            yield e, client, listed["incidents"][0]["id"]


async def test_list_show_acknowledge_and_resolve(tmp_path: Path) -> None:
    async with api(tmp_path) as (e, client, incident):
        listed = (await client.get("/api/admin/incidents", headers=ADMIN)).json()["incidents"]
        assert [(i["id"], i["state"], i["failures"], i["modelId"]) for i in listed] == [
            (incident, "open", 3, "flux-pro")
        ]
        acked = await client.post(
            f"/api/admin/incidents/{incident}/ack", headers=ADMIN, json={"actor": "dana"}
        )
        assert acked.status_code == 200
        assert acked.json()["outcome"] == "done"
        assert acked.json()["incident"]["acknowledgedBy"] == "dana"
        again = await client.post(f"/api/admin/incidents/{incident}/ack", headers=ADMIN)
        assert (again.status_code, again.json()["outcome"]) == (200, "unchanged")
        assert "dana" in again.json()["message"]
        resolved = await client.post(f"/api/admin/incidents/{incident}/resolve", headers=ADMIN)
        assert resolved.json()["incident"]["state"] == "resolved"
        assert resolved.json()["incident"]["resolvedBy"] == "admin-api"
        late = await client.post(f"/api/admin/incidents/{incident}/ack", headers=ADMIN)
        assert late.status_code == 409
        await e.settle()
        shown = (await client.get(f"/api/admin/incidents/{incident}", headers=ADMIN)).json()
        assert [(a["action"], a["actorName"], a["source"]) for a in shown["actions"]] == [
            ("ack", "dana", "api"),
            ("resolve", "admin-api", "api"),
        ]
        assert [n["reason"] for n in shown["notifications"]] == ["first", "resolved"]
        assert all(n["status"] == "sent" for n in shown["notifications"])


async def test_filters(tmp_path: Path) -> None:
    async with api(tmp_path) as (_, client, incident):

        async def found(query: str) -> list[str]:
            answer = await client.get(f"/api/admin/incidents?{query}", headers=ADMIN)
            assert answer.status_code == 200, answer.text
            return [i["id"] for i in answer.json()["incidents"]]

        assert await found("state=open") == [incident]
        assert await found("state=resolved") == []
        assert await found("category=rate_limit&modelId=flux-pro") == [incident]
        assert await found("modelId=sdxl") == []
        assert await found("q=%3C%21channel%3E") == [incident]  # in the error message
        assert await found("q=50%25") == []  # `%` is text, not a wildcard
        assert await found("since=2020-01-01T00:00:00Z&until=2099-01-01T00:00:00Z") == [incident]
        assert await found("until=2020-01-01T00:00:00Z") == []


@pytest.mark.parametrize(
    "query",
    ["state=asleep", "limit=0", "limit=501", "offset=-1", "since=yesterday", "since=" + "9" * 50],
)
async def test_bad_parameters_are_400(tmp_path: Path, query: str) -> None:
    async with api(tmp_path) as (_, client, _incident):
        answer = await client.get(f"/api/admin/incidents?{query}", headers=ADMIN)
    assert answer.status_code == 400
    assert answer.json()["parameter"] == query.partition("=")[0]


async def test_bad_ids_and_bodies_change_nothing(tmp_path: Path) -> None:
    async with api(tmp_path) as (_, client, incident):
        for path in ("0" * 24 + "-1", "nope", "x" * 300):
            assert (
                await client.get(f"/api/admin/incidents/{path}", headers=ADMIN)
            ).status_code == 404
            posted = await client.post(f"/api/admin/incidents/{path}/ack", headers=ADMIN)
            assert posted.status_code == 404
        url = f"/api/admin/incidents/{incident}/ack"
        bodies = [(b"{", 400), (b"[]", 422), (b'{"actor": ""}', 422), (b'{"who": "x"}', 422)]
        for body, status in bodies:
            assert (await client.post(url, headers=ADMIN, content=body)).status_code == status
        huge = await client.post(url, headers=ADMIN, content=b" " * 5000)
        assert huge.status_code == 413
        assert (await client.post(url)).status_code == 401
        shown = (await client.get(f"/api/admin/incidents/{incident}", headers=ADMIN)).json()
        assert (shown["state"], shown["actions"]) == ("open", [])
