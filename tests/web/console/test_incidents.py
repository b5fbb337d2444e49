"""The incidents pages through the ASGI app, on incidents the real dispatcher opened
(a clock the test moves, no sleeps): counts, filters, sparklines, hostile text, the
timeline, and acknowledge / mute / resolve through `loops.incidents.act`."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from receiver.web.app import create_app
from tests.loops.harness import Engine, engine
from tests.web.console.harness import (
    HOSTILE_ERROR,
    HOSTILE_MODEL,
    TOKEN,
    assert_escaped,
    csrf_of,
    sign_in,
)

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def console_on(tmp_path: Path) -> AsyncIterator[tuple[Engine, httpx.AsyncClient]]:
    """Two incidents (one with hostile text) opened and notified by the engine, and a
    signed-in client of a console on the same store and clock."""
    async with engine(tmp_path, admin_token=TOKEN) as e:
        for _ in range(3):
            await e.fail(model="flux-pro", error="Request timed out after 30012ms")
        await e.fail(model=HOSTILE_MODEL, error=HOSTILE_ERROR, user=HOSTILE_MODEL)
        e.clock.advance(60)
        await e.settle()
        app = create_app(e.settings, store=e.store, clock=e.clock, notifiers={})
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://failwatch") as client:
            await sign_in(client)
            yield e, client


def incident_ids(html: str) -> list[str]:
    return re.findall(r'href="/incidents/([0-9a-f]{24}-[0-9]+)"', html)


async def test_list_counts_filters_and_sparklines(tmp_path: Path) -> None:
    async with console_on(tmp_path) as (_, client):
        everything = await client.get("/incidents")
        by_model = await client.get("/incidents?model=flux-pro")
        by_text = await client.get("/incidents?q=onerror")
        resolved = await client.get("/incidents?state=resolved")
        recent = await client.get("/incidents?range=1h&category=timeout")
        bad_state = await client.get("/incidents?state=sleeping")
        bad_page = await client.get("/incidents?page=0")
    assert len(incident_ids(everything.text)) == 2
    assert "open <strong>2</strong>" in everything.text
    assert everything.text.count("<polyline") == 2
    assert len(incident_ids(by_model.text)) == 1
    assert len(incident_ids(by_text.text)) == 1
    assert "No incidents match these filters." in resolved.text
    assert len(incident_ids(recent.text)) == 1
    assert (bad_state.status_code, bad_page.status_code) == (400, 400)
    assert "state" in bad_state.text


async def test_hostile_text_is_escaped_in_the_list_and_the_incident(tmp_path: Path) -> None:
    async with console_on(tmp_path) as (_, client):
        listed = await client.get("/incidents")
        pages = [(await client.get(f"/incidents/{i}")).text for i in incident_ids(listed.text)]
    assert_escaped(listed.text)
    for html in pages:
        assert_escaped(html)
    assert any("&lt;img src=x onerror=alert(2)&gt;" in html for html in pages)


async def test_an_incident_shows_its_timeline_errors_and_users(tmp_path: Path) -> None:
    async with console_on(tmp_path) as (_, client):
        listed = await client.get("/incidents?model=flux-pro")
        (incident_id,) = incident_ids(listed.text)
        page = await client.get(f"/incidents/{incident_id}")
        unknown = await client.get("/incidents/0123456789abcdef01234567-9")
        malformed = await client.get("/incidents/..%2f..%2fetc")
    assert page.status_code == 200
    assert "notified (first)" in page.text
    assert "default/console: sent" in page.text
    assert "Request timed out after 30012ms" in page.text
    assert "<code>u1</code>" in page.text
    assert "/silences?matcher=category%3Dtimeout&amp;matcher=model_id%3Dflux-pro" in page.text
    assert (unknown.status_code, malformed.status_code) == (404, 404)


async def test_acknowledge_mute_and_resolve(tmp_path: Path) -> None:
    async with console_on(tmp_path) as (e, client):
        listed = await client.get("/incidents?model=flux-pro")
        (incident_id,) = incident_ids(listed.text)
        url = f"/incidents/{incident_id}"
        csrf = csrf_of((await client.get(url)).text)
        acked = await client.post(f"{url}/ack", data={"csrf": csrf})
        after_ack = await client.get(url)
        muted = await client.post(f"{url}/mute", data={"csrf": csrf, "for": "4h"})
        after_mute = await client.get(url)
        silences = await client.get("/silences")
        bad_mute = await client.post(f"{url}/unmute", data={"csrf": csrf})
        resolved = await client.post(f"{url}/resolve", data={"csrf": csrf})
        refused = await client.post(f"{url}/mute", data={"csrf": csrf, "for": "1h"})
        unknown_action = await client.post(f"{url}/explode", data={"csrf": csrf})
        no_csrf = await client.post(f"{url}/ack")
        # The actions' notifications go through the outbox like Slack's: deliver them.
        await e.settle()
        counts = await client.get("/incidents")
        final = await client.get(url)
    assert acked.status_code == 303
    assert 'id="incident-state">acknowledged<' in after_ack.text
    assert muted.status_code == 303
    assert 'id="incident-state">muted<' in after_mute.text
    assert "Muted by console until" in after_mute.text
    active = silences.text.split("<h2>Active</h2>")[1].split("<h2>Pending</h2>")[0]
    assert "model_id=&#34;flux-pro&#34;" in active
    assert bad_mute.status_code == 303  # unmute of a muted incident: done
    assert resolved.status_code == 303
    assert refused.status_code == 409
    assert unknown_action.status_code == 404
    assert no_csrf.status_code == 403
    assert "resolved <strong>1</strong>" in counts.text
    timeline = final.text.split("<h2>Timeline</h2>")[1].split("</table>")[0]
    for step in ("<td>ack</td>", "<td>mute 4h</td>", "<td>unmute</td>", "<td>resolved</td>"):
        assert step in timeline
    assert "by console (api)" in timeline
