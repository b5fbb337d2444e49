"""A flood of distinct models through a real `failwatch serve`, with Slack limiting it
to about a message a second: a handful of messages, and a new incident is not stuck."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.payloads import SECRET, WEBHOOK, auth, failed_insert
from tests.serving import running_serve
from tests.standins.slack import SlackStandIn

pytestmark = pytest.mark.acceptance

MODELS = 200
CAP = 5
GROUP_WAIT = 1.0


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(rate_limit=1.0, burst=3) as standin:
        yield standin


def fail(client: httpx.Client, model: str, error: str, kind: str) -> None:
    body = failed_insert(
        id=str(uuid.uuid4()),
        model_id=model,
        parameters={"error": error, "errorContext": {"message": error, "type": kind}},
    )
    response = client.post(WEBHOOK, content=body, headers=auth())
    assert response.json() == {"status": "accepted"}, response.text


def test_a_flood_of_distinct_models_is_a_few_messages_and_a_new_incident_gets_through(
    tmp_path: Path, slack: SlackStandIn
) -> None:
    env = {
        "FAILWATCH_WEBHOOK_SECRET": SECRET,
        "FAILWATCH_SLACK_BOT_TOKEN": slack.token,
        "FAILWATCH_SLACK_CHANNEL": "#alerts",
        "FAILWATCH_SLACK_API_URL": slack.api_url,
        "FAILWATCH_GROUP_WAIT": f"{GROUP_WAIT:g}s",
        "FAILWATCH_GROUP_INTERVAL": "3s",
        "FAILWATCH_MAX_GROUPS": str(CAP),
    }
    with running_serve(tmp_path, **env) as server:
        with httpx.Client(base_url=server.url, timeout=10.0, trust_env=False) as client:
            for i in range(MODELS):
                fail(client, f"lora-{i:04d}", "Invalid LoRA weights", "ModelError")
            fail(client, "flux-pro", "Request timed out after 30000ms", "ModelTimeoutError")
            accepted_at = time.time()

        def incident(s: SlackStandIn) -> bool:
            return any("timeout" in m.text for m in s.messages.values())

        slack.wait_for(incident, timeout=30)
        [arrived] = [
            c.at
            for c in slack.calls
            if c.method == "chat.postMessage" and c.status == 200 and "timeout" in c.body["text"]
        ]
        # The overflow group's message is updated in place until it counts every model.
        slack.wait_for(
            lambda s: any(f"{MODELS - CAP} more models" in m.header for m in s.messages.values()),
            timeout=60,
        )
        # Every first message (one may have met a 429 and waited its Retry-After).
        slack.wait_for(lambda s: len(s.messages) >= CAP + 2, timeout=60)
        # "Invalid LoRA weights" from a ModelError: the classifier files it as model_error.
        folded = server.metric(
            "failwatch_groups_folded_total", route="route", category="model_error"
        )
        assert server.stop() == 0

    # Within group_wait and a few seconds of its 202, whatever the flood left waiting.
    assert arrived - accepted_at <= GROUP_WAIT + 5
    headers = sorted(m.header for m in slack.messages.values())
    # CAP groups of their own, one overflow group, and the new incident: nothing else.
    assert len(headers) == CAP + 2, headers
    assert sum("more models failing" in h for h in headers) == 1
    assert folded == MODELS - CAP
