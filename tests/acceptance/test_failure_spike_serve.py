"""Acceptance: the failure-spike rule inside a real `failwatch serve` that has only the
webhook (no source database) — a burst of one model's failures after a quiet day fires one
`failure_spike` alert in Slack, updated in place, resolved after recovery."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from receiver.intake.pipeline import failure_from_row
from receiver.model import FailureKind, Source
from receiver.store import open_store
from tests.payloads import SECRET, WEBHOOK, auth, failed_insert
from tests.serving import Server, running_serve
from tests.standins.slack import Message, SlackStandIn
from tests.supabase.support import stored_failures

pytestmark = pytest.mark.acceptance

HOUR = 3600.0


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


def quiet_day(db_path: Path) -> None:
    """What failwatch recorded over the last 25 hours: one flux-pro failure an hour."""

    async def seed() -> None:
        store = open_store(f"sqlite:///{db_path}")
        await store.open()
        now = time.time()
        for hour in range(1, 26):
            record = {
                "id": f"past-{hour}",
                "status": "failed",
                "model_id": "flux-pro",
                "parameters": {"error": "Rate limit exceeded"},
            }
            failure = failure_from_row(record, kind=FailureKind.FAILED, source=Source.WEBHOOK)
            assert await store.record_failure(failure, received_at=now - hour * HOUR)
        await store.close()

    asyncio.run(seed())


def fail(server: Server, count: int) -> None:
    with httpx.Client(base_url=server.url, timeout=10.0, trust_env=False) as client:
        for _ in range(count):
            body = failed_insert(
                id=str(uuid.uuid4()),
                model_id="flux-pro",
                parameters={"error": "Rate limit exceeded"},
            )
            response = client.post(WEBHOOK, content=body, headers=auth())
            assert response.json() == {"status": "accepted"}, response.text


def spike_message(slack: SlackStandIn) -> Message | None:
    found = [m for m in slack.messages.values() if "failure_spike" in m.header]
    assert len(found) <= 1, [m.header for m in found]
    return found[0] if found else None


def text_of(slack: SlackStandIn) -> str:
    """The spike alert's current text ('' before there is one)."""
    message = spike_message(slack)
    return "" if message is None else message.text


def resolved(message: Message | None) -> bool:
    """The incident's thread says it is resolved."""
    assert message is not None
    return any(reply.text.startswith(":white_check_mark:") for reply in message.replies)


def test_a_burst_after_a_quiet_day_alerts_once_updates_and_resolves(
    tmp_path: Path, slack: SlackStandIn
) -> None:
    quiet_day(tmp_path / "failwatch.db")
    env = {
        "FAILWATCH_WEBHOOK_SECRET": SECRET,
        "FAILWATCH_SLACK_BOT_TOKEN": slack.token,
        "FAILWATCH_SLACK_CHANNEL": "#alerts",
        "FAILWATCH_SLACK_API_URL": slack.api_url,
        "FAILWATCH_GROUP_WAIT": "0s",
        "FAILWATCH_GROUP_INTERVAL": "1s",
        # Every count the alert shows is an update; on a loaded machine the burst arrives
        # spread out, and past the default 20 updates storm control would hold the
        # resolution for a digest 10 minutes later (tests/acceptance/test_storm.py).
        "FAILWATCH_MAX_NOTIFICATIONS": "1000",
        "FAILWATCH_FAILURE_SPIKE__WINDOW": "30s",
        "FAILWATCH_FAILURE_SPIKE__INTERVAL": "300ms",
    }
    with running_serve(tmp_path, **env) as served:
        fail(served, 12)
        # It may fire at 10 or 11 while the burst is still arriving; then it shows 12.
        slack.wait_for(
            lambda s: "rate_limit on flux-pro: 12 failures in the last 30 s" in text_of(s)
        )

        fail(served, 8)  # worse: the same message, updated in place
        slack.wait_for(lambda s: "20 failures in the last 30 s" in text_of(s))

        # No failures for a window: calm three evaluations in a row, then resolved.
        slack.wait_for(lambda s: resolved(spike_message(s)), timeout=90)
        assert served.metric("failwatch_loop_errors_total", loop="failure_spike") == 0
        # Every count it showed is a failure of the one alert (how many depends on how the
        # evaluations fell between the webhooks); nothing else spiked.
        alerts = [r for r in stored_failures(served.db_path) if r["kind"] == "condition"]
        assert len(alerts) >= 2
        assert len({(r["category"], r["generation_id"]) for r in alerts}) == 1
        assert alerts[0]["category"] == "failure_spike"
        assert served.metric("failwatch_failures_total", category="failure_spike") == len(alerts)
    posts = [
        c
        for c in slack.calls
        if c.method == "chat.postMessage"
        and "thread_ts" not in c.body
        and "failure_spike" in str(c.body.get("blocks"))
    ]
    assert len(posts) == 1  # one alert, never a second message
