"""PostgreSQL state going away and coming back while failwatch serves."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import anyio
import pytest

from receiver.config.settings import load_settings
from receiver.web.app import create_app
from tests.asgi import serving
from tests.loops.harness import Recorder
from tests.postgres import scratch_database
from tests.standins.tcp_proxy import proxy_to

pytestmark = pytest.mark.anyio
SECRET = {"x-webhook-secret": "s"}


def failure(generation: str) -> bytes:
    record = {"id": generation, "status": "failed", "model_id": "m", "parameters": {"error": "x"}}
    return json.dumps(
        {"type": "INSERT", "table": "generations", "schema": "public", "record": record}
    ).encode()


async def test_webhooks_get_503_while_the_state_is_away_and_recover_alone() -> None:
    with scratch_database("fw_outage") as dsn:
        parts = urlsplit(dsn)
        with proxy_to(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
            via_proxy = dsn.replace(f":{parts.port}/", f":{proxy.port}/")
            settings = load_settings(
                state_url=via_proxy, webhook_secret="s", group_wait="0s", group_interval="1s"
            )
            recorder = Recorder()
            app = create_app(settings, notifiers={("default", "console"): recorder})
            async with serving(app) as client:
                before = await client.post(
                    "/webhooks/supabase", content=failure("g1"), headers=SECRET
                )
                assert before.status_code == 202
                proxy.cut()
                during = await client.post(
                    "/webhooks/supabase", content=failure("g2"), headers=SECRET
                )
                ready = await client.get("/readyz")
                assert (during.status_code, ready.status_code) == (503, 503)
                proxy.restore()
                after = await client.post(
                    "/webhooks/supabase", content=failure("g2"), headers=SECRET
                )
                again = await client.post(
                    "/webhooks/supabase", content=failure("g1"), headers=SECRET
                )
                ready = await client.get("/readyz")
                assert (after.json(), again.json(), ready.status_code) == (
                    {"status": "accepted"},
                    {"status": "duplicate"},
                    200,
                )
                metrics = (await client.get("/metrics")).text
                # The dispatcher and the worker carried on by themselves: both accepted
                # failures were notified, once.
                for _ in range(200):
                    if sum(n.window_failures for n in recorder.sent) >= 2:
                        break
                    await anyio.sleep(0.05)
        assert 'failwatch_webhook_events_total{outcome="unavailable"} 1.0' in metrics
        assert sum(n.window_failures for n in recorder.sent) == 2
