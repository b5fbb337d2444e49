from __future__ import annotations

import json
from pathlib import Path

import pytest

from receiver.config.settings import load_settings
from receiver.web.app import create_app
from tests.asgi import serving

pytestmark = pytest.mark.anyio


async def test_a_failure_is_accepted_once_then_reported_duplicate(tmp_path: Path) -> None:
    settings = load_settings(state_url=f"sqlite:///{tmp_path}/fw.db", webhook_secret="s3cret")
    body = json.dumps(
        {
            "type": "INSERT",
            "table": "generations",
            "schema": "public",
            "record": {"id": "g1", "status": "failed", "parameters": {"error": "boom"}},
            "old_record": None,
        }
    )
    headers = {"x-supabase-webhook-source": "s3cret"}
    async with serving(create_app(settings)) as client:
        first = await client.post("/webhooks/supabase", content=body, headers=headers)
        second = await client.post("/webhooks/supabase", content=body, headers=headers)
    assert (first.status_code, first.json()) == (202, {"status": "accepted"})
    assert (second.status_code, second.json()) == (202, {"status": "duplicate"})
