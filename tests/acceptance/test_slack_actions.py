"""Clicking an incident's buttons through real `failwatch serve` processes: one on SQLite,
and three replicas on one PostgreSQL state, each click (and Slack's retries of it) sent
to every replica. The incident, its message and its thread change exactly once per
action; a click on a resolved incident is explained to the clicker alone."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.payloads import SECRET, WEBHOOK, auth, failed_insert
from tests.postgres import scratch_database
from tests.serving import Server, running_serve
from tests.standins.slack import Message, SlackStandIn

pytestmark = pytest.mark.acceptance
ADMIN = {"Authorization": "Bearer admin-token-for-tests"}


@pytest.fixture(params=["sqlite", "postgres"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/failwatch.db"
        return
    with scratch_database("fw_actions") as dsn:
        yield dsn


def test_each_action_changes_incident_message_and_thread_once(
    tmp_path: Path, state_url: str
) -> None:
    replicas_wanted = 1 if state_url.startswith("sqlite") else 3
    with SlackStandIn() as slack, ExitStack() as stack:
        env = {
            "FAILWATCH_STATE_URL": state_url,
            "FAILWATCH_WEBHOOK_SECRET": SECRET,
            "FAILWATCH_ADMIN_TOKEN": ADMIN["Authorization"].removeprefix("Bearer "),
            "FAILWATCH_SLACK_BOT_TOKEN": slack.token,
            "FAILWATCH_SLACK_CHANNEL": "#alerts",
            "FAILWATCH_SLACK_API_URL": slack.api_url,
            "FAILWATCH_SLACK_SIGNING_SECRET": slack.signing_secret,
            "FAILWATCH_SLACK_TEAM_ID": slack.team_id,
            "FAILWATCH_PUBLIC_URL": "https://failwatch.example.com",
            "FAILWATCH_GROUP_WAIT": "1s",
            "FAILWATCH_RESOLVE_AFTER": "10h",
        }
        replicas: list[Server] = []
        for i in range(replicas_wanted):
            folder = tmp_path / f"replica-{i}"
            folder.mkdir()
            replicas.append(stack.enter_context(running_serve(folder, **env)))
        clients = [httpx.Client(base_url=r.url, timeout=10.0, trust_env=False) for r in replicas]
        for _ in range(3):
            body = failed_insert(id=str(uuid.uuid4()), parameters={"error": "Rate limit exceeded"})
            assert clients[0].post(WEBHOOK, content=body, headers=auth()).status_code == 202
        slack.wait_for(lambda s: len(s.messages) == 1)
        (posted,) = slack.messages.values()
        first = copy.deepcopy(posted)

        def click(action_id: str, expect_updates: int, **kw: Any) -> None:
            """One click, delivered to every replica (as Slack's retries could be)."""
            body, headers = slack.interaction(_current(slack), action_id, **kw)
            for client in clients:
                answer = client.post("/slack/interactions", content=body, headers=headers)
                assert (answer.status_code, answer.content) == (200, b"")
            slack.wait_for(lambda s: len(_current(s).history) == expect_updates)

        click("failwatch.ack", 1)
        click("failwatch.mute", 2, option="1h", user_id="U0BOB", user_name="bob")
        silences = clients[0].get("/api/admin/silences", headers=ADMIN).json()["silences"]
        assert [(s["author"], s["comment"]) for s in silences] == [
            ("slack:U0BOB", "muted from Slack")
        ]
        click("failwatch.unmute", 3)
        click("failwatch.resolve", 4)
        # An old copy of the message still has an Acknowledge button.
        body, headers = slack.interaction(first, "failwatch.ack")
        assert (
            clients[-1].post("/slack/interactions", content=body, headers=headers).status_code
            == 200
        )
        slack.wait_for(lambda s: len(s.responses) == 1)
        assert "already resolved" in slack.responses[0]["text"]
        incidents = clients[0].get("/api/admin/incidents", headers=ADMIN).json()["incidents"]
        for client in clients:
            client.close()
        for replica in replicas:
            assert replica.stop() == 0  # a graceful stop delivers anything still owed

    message = _current(slack)
    assert len(message.history) == 4
    replies = [reply.text for reply in message.replies]
    assert [r.split(" ")[0] for r in replies] == [
        "Acknowledged",
        "Muted",
        "Unmuted",
        ":white_check_mark:",
    ]
    assert "Resolved by alice" in replies[-1]
    assert message.header.startswith(":white_check_mark: RESOLVED")
    assert [(i["state"], i["resolvedBy"]) for i in incidents] == [("resolved", "alice")]
    assert len(slack.messages) == 1


def _current(slack: SlackStandIn) -> Message:
    (message,) = slack.messages.values()
    return message
