"""The incident's buttons on a bot-mode Slack message, and the message in each state."""

from __future__ import annotations

from typing import Any

import pytest

from receiver.model import IncidentMark, Notification, Reason
from receiver.notifiers.render import RenderOptions, slack_message, thread_reply
from receiver.notifiers.render.blocks import ACK, MUTE, OPEN, RESOLVE, UNMUTE
from tests.notifiers.samples import T0, later, notification
from tests.notifiers.snapshots import assert_json_snapshot
from tests.notifiers.test_render import INJECTIONS, mrkdwn_texts

INCIDENT = "0123456789abcdef01234567-1"
BOT = RenderOptions(actions=True, public_url="https://failwatch.example.com/")


def mark(**changes: Any) -> IncidentMark:
    return IncidentMark(**{"id": INCIDENT, "state": "open", **changes})


ACKED = mark(state="acknowledged", acked_by="Alice", acked_at=T0 + 500)
STATES: dict[str, Notification] = {
    "open": notification(incident=mark()),
    "acknowledged": later(2, Reason.NEW_FAILURES, incident=ACKED),
    "muted": later(
        2,
        Reason.ACTION,
        incident=mark(state="muted", muted_by="Bob", muted_until=T0 + 4200),
        action="Muted until 15:13 UTC by Bob",
    ),
    "acknowledged_and_muted": later(
        3,
        Reason.ACTION,
        incident=ACKED.model_copy(
            update={"state": "muted", "muted_by": "Bob", "muted_until": T0 + 4200}
        ),
        action="Acknowledged by Alice · 14:11 UTC",
    ),
    "resolved_by_someone": later(
        4,
        Reason.RESOLVED,
        incident=ACKED.model_copy(
            update={"state": "resolved", "resolved_by": "Carol", "resolved_at": T0 + 1500}
        ),
    ),
}


def actions(n: Notification, options: RenderOptions = BOT) -> list[dict[str, Any]]:
    blocks = [b for b in slack_message(n, options).blocks if b["type"] == "actions"]
    assert len(blocks) <= 1
    return blocks[0]["elements"] if blocks else []


@pytest.mark.parametrize("state", list(STATES))
def test_bot_message_in_each_state_matches_its_snapshot(state: str) -> None:
    n = STATES[state]
    message = slack_message(n, BOT)
    rendered = {"text": message.text, "blocks": message.blocks, "thread_reply": thread_reply(n)}
    assert_json_snapshot(f"slack_bot_{state}.json", rendered)


@pytest.mark.parametrize(
    ("state", "ids"),
    [
        ("open", [ACK, MUTE, RESOLVE, OPEN]),
        # Acknowledged: no second Acknowledge.
        ("acknowledged", [MUTE, RESOLVE, OPEN]),
        # Muted: Unmute instead of the menu.
        ("muted", [ACK, UNMUTE, RESOLVE, OPEN]),
        ("acknowledged_and_muted", [UNMUTE, RESOLVE, OPEN]),
        # Resolved: nothing left to do but look.
        ("resolved_by_someone", [OPEN]),
    ],
)
def test_the_buttons_follow_the_state(state: str, ids: list[str]) -> None:
    assert [e["action_id"] for e in actions(STATES[state])] == ids


def test_each_element_carries_only_the_incident_id() -> None:
    n = STATES["open"]
    block = next(b for b in slack_message(n, BOT).blocks if b["type"] == "actions")
    assert block["block_id"] == INCIDENT
    for element in block["elements"]:
        if element["action_id"] == MUTE:
            assert [o["value"] for o in element["options"]] == ["1h", "4h", "24h"]
        elif element["action_id"] == OPEN:
            assert element["url"] == f"https://failwatch.example.com/incidents/{INCIDENT}"
        else:
            assert element["value"] == INCIDENT


def test_without_a_public_url_there_is_no_open_button_and_resolved_has_no_actions() -> None:
    options = RenderOptions(actions=True)
    assert OPEN not in [e["action_id"] for e in actions(STATES["open"], options)]
    assert actions(STATES["resolved_by_someone"], options) == []


def test_a_notification_from_before_incidents_still_gets_buttons() -> None:
    n = notification()  # no incident mark: the id comes from the group and episode
    ids = [e.get("value") for e in actions(n) if e["action_id"] == ACK]
    assert ids == ["category=rate_limit,model_id=flux-pro-1"]


def test_webhook_mode_has_no_buttons() -> None:
    assert actions(STATES["open"], RenderOptions()) == []


@pytest.mark.parametrize("injection", INJECTIONS)
def test_names_from_slack_are_escaped(injection: str) -> None:
    evil = later(
        2,
        Reason.ACTION,
        incident=mark(state="acknowledged", acked_by=injection, acked_at=T0),
        action=f"Acknowledged by {injection} · 14:03 UTC",
    )
    for text in mrkdwn_texts(evil, BOT):
        assert injection not in text
