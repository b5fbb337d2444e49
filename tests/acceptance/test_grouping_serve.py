"""Grouping and silences through a real `failwatch serve`: a burst of 1,000 failures over
4 groups is 4 Slack messages, each with the exact count of its group and one error (the
messages differ only in ids and numbers, many holding "429"); a silence made over the
admin API holds its model back until it is expired, then the group reports what it held."""

from __future__ import annotations

import json
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
TOP_ERROR = re.compile(r"(?P<count>\d+)\u00d7 ")
ADMIN = {"Authorization": "Bearer admin-token-for-tests"}


def burst_error(i: int) -> tuple[str, dict[str, str]]:
    """The i-th failure of the burst: real-shaped texts whose ids, durations and steps
    hold "429", which the guide's '%429%' took for a rate limit."""
    match i % 4:
        case 0:
            return (
                "Error code: 429 - {'error': {'message': 'Rate limit reached for flux-pro on"
                f" requests per min (RPM): Limit 600, Used 600, Requested 1. Please try again"
                f" in {i % 60}.{i % 97}s.', 'code': 'rate_limit_exceeded'}}}}",
                {"type": "RateLimitError"},
            )
        case 1:
            return (f"Request req_{i:05x}429 timed out after {4290 + i}ms", {})
        case 2:
            return (
                f"Model failed to generate output: CUDA out of memory at step {42900 + i}",
                {"type": "ModelGenerationError"},
            )
        case _:
            return (f"connect ETIMEDOUT 10.0.{i % 250}.{i // 250}:429", {"code": "ETIMEDOUT"})


BURST_GROUPS = {
    0: ("flux-pro", "rate_limit · flux-pro"),
    1: ("flux-pro", "timeout · flux-pro"),
    2: ("sdxl", "model_error · sdxl"),
    3: ("sdxl", "timeout · sdxl"),
}


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


def send(
    client: httpx.Client, model: str, message: str, context: dict[str, str] | None = None
) -> None:
    parameters: dict[str, object] = {"error": message}
    if context:
        parameters["errorContext"] = context
    body = failed_insert(id=str(uuid.uuid4()), model_id=model, parameters=parameters)
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
                message, context = burst_error(i)
                send(client, BURST_GROUPS[i % 4][0], message, context)
            assert slack.calls == []
            expired = client.delete(f"/api/admin/silences/{hold_all}", headers=ADMIN)
            assert expired.status_code == 200
        slack.wait_for(lambda s: len(s.messages) == 4)
        assert server.stop() == 0  # a graceful stop delivers anything still owed
    assert totals(slack) == {group: 250 for _, group in BURST_GROUPS.values()}
    assert len(slack.calls) == 4  # four posts: no update, no flood
    # Each group's failures differ only in ids and numbers: one error, 250 times.
    for posted in slack.messages.values():
        text = "\n".join(json.dumps(block, ensure_ascii=False) for block in posted.blocks)
        assert [int(m["count"]) for m in TOP_ERROR.finditer(text)] == [250], posted.header


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
