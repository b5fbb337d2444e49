"""`kill -9` in the middle of delivery, then a restart: nothing accepted is lost, and
no flush reaches Slack twice — except the one the worker may have had in flight between
Slack's 2xx and its own ack (the documented window: at most one per destination)."""

from __future__ import annotations

import signal
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.payloads import SECRET, WEBHOOK, auth, failed_insert
from tests.serving import running_serve
from tests.standins.slack import SlackStandIn

pytestmark = pytest.mark.acceptance

GROUPS = 24
PER_GROUP = 10


def test_kill_9_mid_delivery_then_restart_loses_nothing(tmp_path: Path) -> None:
    with SlackStandIn() as slack:
        env = {
            "FAILWATCH_WEBHOOK_SECRET": SECRET,
            "FAILWATCH_SLACK_BOT_TOKEN": slack.token,
            "FAILWATCH_SLACK_CHANNEL": "#alerts",
            "FAILWATCH_SLACK_API_URL": slack.api_url,
            "FAILWATCH_GROUP_WAIT": "1s",
            "FAILWATCH_GROUP_INTERVAL": "2s",
            # Slow enough that the kill lands while messages are still going out.
            "FAILWATCH_DELIVERY__RATE_PER_SECOND": "6",
            "FAILWATCH_DELIVERY__BURST": "2",
            "FAILWATCH_DELIVERY__LEASE": "3s",
            # Every update of the 24 groups must reach its message, not a digest 10 min
            # later (storm control's budget is tested in tests/loops/test_storm.py).
            "FAILWATCH_MAX_NOTIFICATIONS": "1000",
        }
        with running_serve(tmp_path, **env) as server:
            with httpx.Client(base_url=server.url, timeout=10.0, trust_env=False) as client:
                for i in range(GROUPS * PER_GROUP):
                    body = failed_insert(
                        id=str(uuid.uuid4()),
                        model_id=f"model-{i % GROUPS:02d}",
                        parameters={"error": "Rate limit exceeded (429)"},
                    )
                    response = client.post(WEBHOOK, content=body, headers=auth())
                    assert response.json() == {"status": "accepted"}
            slack.wait_for(lambda s: len(s.messages) >= 4)
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(timeout=10)
            delivered_before = len(slack.messages)
        assert delivered_before < GROUPS, "the kill came too late to test anything"

        with running_serve(tmp_path, **env) as server:
            slack.wait_for(lambda s: _titles(s) >= set(_expected()), timeout=60)
            assert server.stop() == 0

    posts = Counter(_title(m.header) for m in slack.messages.values())
    # Every group was announced, with all of its failures.
    assert set(posts) == set(_expected())
    # At most one flush was in flight when the process died: that one may be repeated.
    assert sum(posts.values()) - GROUPS <= 1, posts
    assert all(count <= 2 for count in posts.values()), posts


def _title(header: str) -> str:
    return header.split(" ", 1)[1]  # drop the emoji


def _titles(slack: SlackStandIn) -> set[str]:
    return {_title(m.header) for m in slack.messages.values()}


def _expected() -> list[str]:
    return [f"{PER_GROUP} failures · rate_limit · model-{g:02d}" for g in range(GROUPS)]
