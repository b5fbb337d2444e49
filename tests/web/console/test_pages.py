"""Every console page and fragment through the ASGI app: empty states, filters, the
silence editor's preview, create and expire, dead-letter retry, and hostile text
(a model id `<script>…` and an error `"><img onerror=…>`) escaped everywhere."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import markupsafe
import pytest

from tests.asgi import serving
from tests.web.console.harness import (
    HOSTILE_ERROR,
    HOSTILE_MODEL,
    assert_escaped,
    console_app,
    csrf_of,
    page_csrf,
    seed_dead_letter,
    seed_failures,
    sign_in,
)

pytestmark = pytest.mark.anyio


def shown(text: str) -> str:
    """Text as the templates print it (Jinja2's autoescape)."""
    return str(markupsafe.escape(text))


async def test_empty_states(tmp_path: Path) -> None:
    async with serving(console_app(tmp_path)) as client:
        await sign_in(client)
        failures = await client.get("/failures")
        silences = await client.get("/silences")
        delivery = await client.get("/delivery")
        status = await client.get("/status")
    assert "No failures in this window." in failures.text
    assert silences.text.count("None.") == 3
    assert "No dead letters." in delivery.text
    assert "No notifications yet." in delivery.text
    assert "FAILWATCH_DATABASE_URL" in status.text  # sweeps are off, and it says why


async def test_hostile_text_is_escaped_on_every_page(tmp_path: Path) -> None:
    app = console_app(tmp_path)
    async with serving(app) as client:
        await sign_in(client)
        await seed_failures(client)
        await seed_dead_letter(app)
        csrf = await page_csrf(client)
        await client.post(
            "/silences",
            data={
                "csrf": csrf,
                "matchers": f"model_id={HOSTILE_MODEL}",
                "duration": "1h",
                "comment": HOSTILE_ERROR,
                "author": HOSTILE_MODEL,
            },
        )
        pages = {
            path: await client.get(path)
            for path in [
                "/failures",
                "/failures?by=model_id",
                "/failures?window=7d",
                "/silences",
                f"/silences?matcher=model_id%3D{HOSTILE_MODEL}",
                "/delivery",
                "/status",
            ]
        }
        preview = await client.post(
            "/silences/preview",
            data={"csrf": csrf, "matchers": f"model_id={HOSTILE_MODEL}"},
            headers={"hx-request": "true"},
        )
    for path, response in pages.items():
        assert response.status_code == 200, path
        assert_escaped(response.text)
    assert_escaped(preview.text)
    # The hostile text is shown, as text: escaped, not dropped.
    assert shown(HOSTILE_MODEL) in pages["/failures?by=model_id"].text
    assert shown(HOSTILE_ERROR) in pages["/failures"].text
    assert shown(HOSTILE_ERROR) in pages["/silences"].text
    assert shown(HOSTILE_MODEL) in pages["/delivery"].text
    assert shown(HOSTILE_ERROR) in pages["/delivery"].text


async def test_failures_filters_and_chart_data(tmp_path: Path) -> None:
    async with serving(console_app(tmp_path)) as client:
        await sign_in(client)
        await seed_failures(client, hostile=False, count=3)
        by_category = await client.get("/failures")
        by_model = await client.get("/failures?window=7d&step=1h&by=model_id")
        bad = await client.get("/failures?window=1y")
    assert "3 in the last 24h" in by_category.text
    chart = html.unescape(re.search(r'data-chart="([^"]*)"', by_model.text).group(1))  # type: ignore[union-attr]
    assert '"label":"flux-pro"' in chart
    assert by_model.text.count("selected>") == 3
    assert bad.status_code == 400
    assert "window" in bad.text


async def test_silence_editor_preview_create_and_expire(tmp_path: Path) -> None:
    async with serving(console_app(tmp_path)) as client:
        await sign_in(client)
        await seed_failures(client, hostile=False, count=3)
        csrf = await page_csrf(client)
        fragment = await client.post(
            "/silences/preview",
            data={"csrf": csrf, "matchers": "model_id=flux-pro\ncategory=timeout"},
            headers={"hx-request": "true"},
        )
        whole = await client.post(
            "/silences/preview", data={"csrf": csrf, "matchers": "model_id=nothing-like-it"}
        )
        bad = await client.post(
            "/silences/preview",
            data={"csrf": csrf, "matchers": "not a matcher"},
            headers={"hx-request": "true"},
        )
        created = await client.post(
            "/silences",
            data={
                "csrf": csrf,
                "matchers": "model_id=flux-pro",
                "duration": "4h",
                "comment": "provider outage",
                "author": "ana",
            },
        )
        listed = await client.get("/silences")
        silence_id = created.headers["location"].split("#silence-")[1]
        confirm = await client.get(f"/silences/{silence_id}/expire")
        expired = await client.post(f"/silences/{silence_id}/expire", data={"csrf": csrf})
        again = await client.post(f"/silences/{silence_id}/expire", data={"csrf": csrf})
        after = await client.get("/silences")
    assert fragment.status_code == 200
    assert fragment.text.startswith('<div id="preview"')  # a fragment, not a page
    assert 'id="preview-failures">3<' in fragment.text
    assert 'id="preview-failures">0<' in whole.text
    assert "<html" in whole.text
    assert "not a matcher" in bad.text
    assert created.status_code == 303
    active = listed.text.split("<h2>Active</h2>")[1].split("<h2>Pending</h2>")[0]
    assert "provider outage" in active
    assert "ana" in active
    assert "Expire this silence?" in confirm.text
    assert (expired.status_code, again.status_code) == (303, 404)
    expired_section = after.text.split("<h2>Expired</h2>")[1]
    assert "provider outage" in expired_section
    assert "provider outage" not in after.text.split("<h2>Active</h2>")[1].split("<h2>Expired")[0]


@pytest.mark.parametrize(
    ("form", "needle"),
    [
        ({"matchers": "", "duration": "1h", "comment": "c", "author": "a"}, "at least one"),
        ({"matchers": "model_id=x", "duration": "1y", "comment": "c", "author": "a"}, "duration"),
        ({"matchers": "model_id=x", "duration": "1h", "comment": "", "author": "a"}, "comment"),
        ({"matchers": "model_id=~(", "duration": "1h", "comment": "c", "author": "a"}, "regex"),
    ],
)
async def test_bad_silences_are_refused_and_change_nothing(
    tmp_path: Path, form: dict[str, str], needle: str
) -> None:
    async with serving(console_app(tmp_path)) as client:
        await sign_in(client)
        csrf = await page_csrf(client)
        response = await client.post("/silences", data={"csrf": csrf, **form})
        listed = await client.get("/silences")
    assert response.status_code == 422
    assert needle in response.text
    assert listed.text.count("None.") == 3
    # What was typed is kept, so the form can be fixed rather than retyped.
    assert f">{shown(form['matchers'])}</textarea>" in response.text


async def test_silence_editor_is_prefilled_from_the_query(tmp_path: Path) -> None:
    async with serving(console_app(tmp_path)) as client:
        await sign_in(client)
        page = await client.get("/silences?matcher=category%3Dquota&matcher=model_id%3Dsdxl")
    assert ">category=quota\nmodel_id=sdxl</textarea>" in page.text


async def test_dead_letters_retry_one_and_all(tmp_path: Path) -> None:
    app = console_app(tmp_path)
    async with serving(app) as client:
        await sign_in(client)
        first = await seed_dead_letter(app, error="slack said no")
        await seed_dead_letter(app, error="smtp said no")
        page = await client.get("/delivery")
        csrf = csrf_of(page.text)
        one = await client.post(f"/delivery/{first}/retry", data={"csrf": csrf})
        missing = await client.post(f"/delivery/{first}/retry", data={"csrf": csrf})
        huge = await client.post("/delivery/99999999999999999999/retry", data={"csrf": csrf})
        rest = await client.post("/delivery/retry", data={"csrf": csrf})
        after = await client.get("/delivery")
    assert "slack said no" in page.text
    assert "smtp said no" in page.text
    assert one.status_code == 303
    assert (missing.status_code, huge.status_code) == (404, 404)
    assert rest.status_code == 303
    assert "No dead letters." in after.text


async def test_status_masks_secrets(tmp_path: Path) -> None:
    app = console_app(tmp_path, slack_webhook_url="https://hooks.slack.com/services/T0/B0/sEcReT")
    async with serving(app) as client:
        await sign_in(client)
        page = await client.get("/status")
    assert "sEcReT" not in page.text
    assert "console-admin-t0ken" not in page.text
    assert "whsec-test" not in page.text
    assert "set (hidden)" in page.text
    assert "category, model_id" in page.text  # the routing tree's group_by


async def test_the_page_and_the_json_api_show_the_same_counts(tmp_path: Path) -> None:
    async with serving(console_app(tmp_path)) as client:
        await sign_in(client)
        await seed_failures(client, count=3)
        page = await client.get("/failures?by=model_id")
        api = await client.get(
            "/api/admin/failure-patterns?by=model_id",
            headers={"authorization": "Bearer console-admin-t0ken"},
        )
        bad = await client.get(
            "/api/admin/failure-patterns?window=1y",
            headers={"authorization": "Bearer console-admin-t0ken"},
        )
    body = api.json()
    assert body["total"] == 5
    assert [(s["key"], sum(s["counts"])) for s in body["series"]] == [
        ("flux-pro", 3),
        (HOSTILE_MODEL, 2),
    ]
    assert len(body["buckets"]) == 288
    chart = html.unescape(re.search(r'data-chart="([^"]*)"', page.text).group(1))  # type: ignore[union-attr]
    assert json.loads(chart)["series"] == [
        {"label": s["key"], "values": s["counts"]} for s in body["series"]
    ]
    assert (bad.status_code, bad.json()["parameter"]) == (400, "window")
