"""`/healthz`, `/readyz` and `/metrics` through the ASGI app."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from receiver import __version__
from receiver.web.context import Services
from tests.asgi import serving
from tests.payloads import WEBHOOK, auth, failed_insert, generation, supabase_body
from tests.webapp import make_app

pytestmark = pytest.mark.anyio

DESIGN_METRICS = (
    "failwatch_webhook_events_total",
    "failwatch_failures_total",
    "failwatch_notifications_total",
    "failwatch_outbox_pending",
    "failwatch_request_duration_seconds",
)


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample called `name`, keyed by its sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def test_healthz(tmp_path: Path) -> None:
    async with serving(make_app(tmp_path)) as client:
        response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (
        200,
        {"status": "ok", "version": __version__},
    )


async def test_readyz_follows_the_store(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with serving(app) as client:
        ready = await client.get("/readyz")
        services: Services = app.state.services
        await services.store.close()
        unready = await client.get("/readyz")
        alive = await client.get("/healthz")
    assert (ready.status_code, ready.json()) == (
        200,
        {"status": "ready", "store": "ok", "loops": {"dispatcher": "ok", "delivery": "ok"}},
    )
    assert unready.status_code == 503
    assert unready.json()["status"] == "unavailable"
    assert unready.json()["store"] == "unreachable"
    assert alive.status_code == 200  # liveness does not depend on the store


async def test_metrics_have_the_design_names(tmp_path: Path) -> None:
    async with serving(make_app(tmp_path)) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    declared = {family.name for family in text_string_to_metric_families(response.text)}
    # The parser drops the `_total` of counters from family names.
    for name in DESIGN_METRICS:
        assert name.removesuffix("_total") in declared, name
        assert f"# TYPE {name} " in response.text


async def test_metrics_count_every_outcome(tmp_path: Path) -> None:
    app = make_app(tmp_path, max_body_bytes=4096)
    calls = [
        (failed_insert(), auth()),  # accepted
        (failed_insert(), auth()),  # duplicate
        (supabase_body("DELETE", None, generation()), auth()),  # ignored
        (failed_insert(), {}),  # unauthorized
        (b"{", auth()),  # invalid: not JSON
        (b"{}", auth()),  # invalid: not a webhook
        (failed_insert() + b" " * 4096, auth()),  # too_large
    ]
    async with serving(app) as client:
        statuses = [
            (await client.post(WEBHOOK, content=body, headers=headers)).status_code
            for body, headers in calls
        ]
        services: Services = app.state.services
        await services.store.close()
        unavailable = await client.post(WEBHOOK, content=failed_insert(id="g2"), headers=auth())
        statuses.append(unavailable.status_code)
        text = (await client.get("/metrics")).text
    assert statuses == [202, 202, 202, 401, 400, 422, 413, 503]
    events = samples(text, "failwatch_webhook_events_total")
    assert {labels[0][1]: value for labels, value in events.items()} == {
        "accepted": 1.0,
        "duplicate": 1.0,
        "ignored": 1.0,
        "unauthorized": 1.0,
        "invalid": 2.0,  # the 400 and the 422
        "too_large": 1.0,
        "unavailable": 1.0,
    }
    assert samples(text, "failwatch_failures_total") == {(("category", "timeout"),): 1.0}
    assert samples(text, "failwatch_webhook_ignored_total") == {(("reason", "delete"),): 1.0}
    timed = samples(text, "failwatch_request_duration_seconds_count")
    assert timed[(("route", "receive_webhook"),)] == 8.0
