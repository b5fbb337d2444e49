"""Grouping and silences through a real `failwatch serve`: a burst of 1,000 failures over
4 groups is 4 Slack messages whose counts sum to 1,000; a silence made over the admin API
holds its model back until it is expired, then the group reports what it held."""

from __future__ import annotations

import re
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

HEADER = re.compile(r"(?P<count>\d+) failures? · (?P<group>.+)$")
ADMIN = {"Authorization": "Bearer admin-token-for-tests"}
GROUPS = [
    ("flux-pro", "Rate limit exceeded"),
    ("flux-pro", "Request timed out"),
    ("sdxl", "Rate limit exceeded"),
    ("sdxl", "Request timed out"),
]


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


def environment(slack: SlackStandIn) -> dict[str, str]:
    return {
        "FAILWATCH_WEBHOOK_SECRET": SECRET,
        "FAILWATCH_ADMIN_TOKEN": ADMIN["Authorization"].removeprefix("Bearer "),
        "FAILWATCH_SLACK_BOT_TOKEN": slack.token,
        "FAILWATCH_SLACK_CHANNEL": "#alerts",
        "FAILWATCH_SLACK_API_URL": slack.api_url,
        "FAILWATCH_GROUP_WAIT": "2s",
        "FAILWATCH_GROUP_INTERVAL": "1h",  # nothing but first messages in these tests
    }


def send(client: httpx.Client, model: str, message: str) -> None:
    body = failed_insert(id=str(uuid.uuid4()), model_id=model, parameters={"error": message})
    assert client.post(WEBHOOK, content=body, headers=auth()).json() == {"status": "accepted"}


def totals(slack: SlackStandIn) -> dict[str, int]:
    """Each message's "N failures · category · model" → {"category · model": N}."""
    found = {}
    for message in slack.messages.values():
        parsed = HEADER.search(message.header)
        assert parsed is not None, message.header
        found[parsed["group"]] = int(parsed["count"])
    return found


def test_a_burst_of_1000_over_4_groups_is_4_messages(tmp_path: Path, slack: SlackStandIn) -> None:
    # The test decides when the groups see the burst, instead of racing group_wait on a
    # machine that may be slow: a silence holds every failure while the 1,000 requests
    # go in, and expiring it hands all of them to their groups in one dispatcher pass.
    with running_serve(tmp_path, **environment(slack)) as server:
        with httpx.Client(base_url=server.url, timeout=10.0, trust_env=False) as client:
            hold_all = _silence(client, 'category=~".+"')
            for i in range(1000):
                model, message = GROUPS[i % 4]
                send(client, model, message)
            assert slack.calls == []
            expired = client.delete(f"/api/admin/silences/{hold_all}", headers=ADMIN)
            assert expired.status_code == 200
        slack.wait_for(lambda s: len(s.messages) == 4)
        assert server.stop() == 0  # a graceful stop delivers anything still owed
    assert totals(slack) == {
        "rate_limit · flux-pro": 250,
        "timeout · flux-pro": 250,
        "rate_limit · sdxl": 250,
        "timeout · sdxl": 250,
    }
    assert len(slack.calls) == 4  # four posts: no update, no flood


def _silence(client: httpx.Client, matcher: str) -> str:
    silence = client.post(
        "/api/admin/silences",
        headers=ADMIN,
        json={
            "matchers": [matcher],
            "endsAt": _iso(time.time() + 3600),
            "comment": "provider outage",
            "author": "oncall",
        },
    )
    assert silence.status_code == 201, silence.text
    silence_id: str = silence.json()["id"]
    return silence_id


def test_a_silence_holds_its_model_until_it_is_expired(tmp_path: Path, slack: SlackStandIn) -> None:
    with running_serve(tmp_path, **environment(slack)) as server:
        with httpx.Client(base_url=server.url, timeout=10.0, trust_env=False) as client:
            silence = _silence(client, "model_id=flux-pro")
            for _ in range(5):
                send(client, "flux-pro", "Rate limit exceeded")
            send(client, "sdxl", "Rate limit exceeded")
            slack.wait_for(lambda s: len(s.messages) == 1)
            time.sleep(3)
            assert totals(slack) == {"rate_limit · sdxl": 1}  # flux-pro is held back

            expired = client.delete(f"/api/admin/silences/{silence}", headers=ADMIN)
            assert expired.status_code == 200
            slack.wait_for(lambda s: len(s.messages) == 2)
            metrics = client.get("/metrics").text
        assert server.stop() == 0
    assert totals(slack) == {"rate_limit · sdxl": 1, "rate_limit · flux-pro": 5}
    # Silenced failures were stored and counted all along.
    assert 'failwatch_failures_total{category="rate_limit"} 6.0' in metrics


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
