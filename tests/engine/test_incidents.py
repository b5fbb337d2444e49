"""engine.incidents: an incident's id and state, and what each action does to it."""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum

import pytest

from receiver.engine.incidents import (
    MUTE_FOR,
    Action,
    ActionSource,
    Actor,
    IncidentState,
    Outcome,
    action_sentence,
    decide_action,
    group_key_of,
    incident_id,
    is_incident_id,
    mark_lines,
    mark_of,
    mute_silence,
    state_of,
)
from receiver.rows import IncidentRow

NOW = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
KEY = "0123456789abcdef01234567"
OPEN = IncidentRow(
    id=incident_id(KEY, 3),
    group_key=KEY,
    episode=3,
    receiver="default",
    labels={"category": "rate_limit", "model_id": "flux-pro"},
    opened_at=NOW - 600,
    first_seen=NOW - 600,
    last_seen=NOW - 60,
    failures=12,
    users_affected=3,
    resolved_at=None,
    resolved_by=None,
    acked_at=None,
    acked_by=None,
    silence_id=None,
    muted_by=None,
    muted_until=None,
    flushes=1,
)
ACKED = replace(OPEN, acked_at=NOW - 120, acked_by="Alice")
MUTED = replace(OPEN, silence_id="s1", muted_by="Bob", muted_until=NOW + 3600)
MUTE_ENDED = replace(MUTED, muted_until=NOW)
RESOLVED = replace(ACKED, resolved_at=NOW - 60, resolved_by="Carol")
UNLABELLED = replace(OPEN, labels={})
BOB = Actor("U0BOB", "Bob", ActionSource.SLACK, team="T1")


def test_the_id_is_the_group_and_episode_and_url_safe() -> None:
    assert OPEN.id == "0123456789abcdef01234567-3"
    assert is_incident_id(OPEN.id)
    assert group_key_of(OPEN.id) == KEY
    for bad in ("", "x", KEY, f"{KEY}-0", f"{KEY}-01", f"{KEY}-1/..", f"{KEY.upper()}-1"):
        assert not is_incident_id(bad), bad


@pytest.mark.parametrize(
    ("incident", "state"),
    [
        (OPEN, IncidentState.OPEN),
        (ACKED, IncidentState.ACKNOWLEDGED),
        (MUTED, IncidentState.MUTED),
        # A mute whose silence ran out is no mute.
        (MUTE_ENDED, IncidentState.OPEN),
        # Muted and acknowledged: muted says more (nothing will be heard of it).
        (replace(MUTED, acked_at=NOW, acked_by="Alice"), IncidentState.MUTED),
        # Resolved wins over everything.
        (RESOLVED, IncidentState.RESOLVED),
        (replace(MUTED, resolved_at=NOW), IncidentState.RESOLVED),
    ],
)
def test_state(incident: IncidentRow, state: IncidentState) -> None:
    assert state_of(incident, NOW) is state


CASES = [
    # Acknowledging an open incident records who and when.
    ("ack open", OPEN, Action.ACK, None, Outcome.DONE),
    # A second click finds it acknowledged: nothing changes, the clicker is told by whom.
    ("ack acked", ACKED, Action.ACK, None, Outcome.UNCHANGED),
    # A muted incident may still be acknowledged.
    ("ack muted", MUTED, Action.ACK, None, Outcome.DONE),
    # Nothing applies to a resolved incident: an old message's buttons do nothing.
    ("ack resolved", RESOLVED, Action.ACK, None, Outcome.REFUSED),
    ("mute resolved", RESOLVED, Action.MUTE, "1h", Outcome.REFUSED),
    ("unmute resolved", RESOLVED, Action.UNMUTE, None, Outcome.REFUSED),
    # Resolving a resolved incident is already done.
    ("resolve resolved", RESOLVED, Action.RESOLVE, None, Outcome.UNCHANGED),
    # Mute for one of the menu's durations.
    ("mute 1h", OPEN, Action.MUTE, "1h", Outcome.DONE),
    ("mute 24h", ACKED, Action.MUTE, "24h", Outcome.DONE),
    # Any other duration (or none) is refused, whatever a forged payload says.
    ("mute 2h", OPEN, Action.MUTE, "2h", Outcome.REFUSED),
    ("mute without duration", OPEN, Action.MUTE, None, Outcome.REFUSED),
    # A second mute does not stack another silence.
    ("mute muted", MUTED, Action.MUTE, "4h", Outcome.UNCHANGED),
    # Once the mute ran out it may be muted again.
    ("mute after mute ended", MUTE_ENDED, Action.MUTE, "1h", Outcome.DONE),
    # A silence needs matchers: an incident without labels cannot be muted.
    ("mute unlabelled", UNLABELLED, Action.MUTE, "1h", Outcome.REFUSED),
    # Unmute ends a running mute, and only that.
    ("unmute muted", MUTED, Action.UNMUTE, None, Outcome.DONE),
    ("unmute open", OPEN, Action.UNMUTE, None, Outcome.UNCHANGED),
    ("unmute after mute ended", MUTE_ENDED, Action.UNMUTE, None, Outcome.UNCHANGED),
    # Resolve ends any unresolved incident.
    ("resolve open", OPEN, Action.RESOLVE, None, Outcome.DONE),
    ("resolve muted", MUTED, Action.RESOLVE, None, Outcome.DONE),
    # An incident that is not there.
    ("unknown", None, Action.ACK, None, Outcome.UNKNOWN),
]


@pytest.mark.parametrize(
    ("incident", "action", "argument", "outcome"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_decide_action(
    incident: IncidentRow | None, action: Action, argument: str | None, outcome: Outcome
) -> None:
    verdict = decide_action(incident, action, argument, now=NOW)
    assert verdict.outcome is outcome
    assert verdict.why
    assert (verdict.mute_until is not None) == (outcome is Outcome.DONE and action is Action.MUTE)


def test_refusals_say_why() -> None:
    assert decide_action(ACKED, Action.ACK, None, now=NOW).why == (
        "Already acknowledged by Alice at 07:58 UTC."
    )
    assert decide_action(RESOLVED, Action.ACK, None, now=NOW).why == (
        "This incident is already resolved (resolved by Carol at 07:59 UTC)."
    )
    assert decide_action(MUTED, Action.MUTE, "1h", now=NOW).why == (
        "Already muted until 09:00 UTC by Bob."
    )
    assert decide_action(OPEN, Action.MUTE, "2h", now=NOW).why == "Mute for one of: 1h, 4h, 24h."


def test_a_mute_is_a_silence_of_the_incidents_labels_by_the_slack_user() -> None:
    verdict = decide_action(OPEN, Action.MUTE, "4h", now=NOW)
    assert verdict.mute_until == NOW + 4 * 3600
    silence = mute_silence(OPEN, BOB, until=verdict.mute_until, silence_id="s9", now=NOW)
    assert [str(m) for m in silence.matchers] == ['category="rate_limit"', 'model_id="flux-pro"']
    assert silence.author == "slack:U0BOB"
    assert silence.comment == "muted from Slack"
    assert (silence.starts_at, silence.ends_at) == (NOW, NOW + 4 * 3600)
    api = Actor("ops", "ops", ActionSource.API)
    assert mute_silence(OPEN, api, until=NOW + 60, silence_id="s", now=NOW).author == "api:ops"


def test_what_the_message_and_thread_say() -> None:
    assert (
        action_sentence(Action.ACK, BOB, now=NOW, until=None) == "Acknowledged by Bob · 08:00 UTC"
    )
    assert action_sentence(Action.MUTE, BOB, now=NOW, until=NOW + 3600) == (
        "Muted until 09:00 UTC by Bob"
    )
    assert action_sentence(Action.UNMUTE, BOB, now=NOW, until=None) == "Unmuted by Bob · 08:00 UTC"
    assert mark_lines(mark_of(OPEN, NOW)) == []
    assert mark_lines(mark_of(replace(MUTED, acked_at=NOW - 120, acked_by="Alice"), NOW)) == [
        "Muted until 09:00 UTC by Bob",
        "Acknowledged by Alice · 07:58 UTC",
    ]
    # A mute that ran out is not shown.
    assert mark_lines(mark_of(MUTE_ENDED, NOW)) == []
    assert mark_lines(mark_of(RESOLVED, NOW)) == [
        "Resolved by Carol · 07:59 UTC",
        "Acknowledged by Alice · 07:58 UTC",
    ]


@pytest.mark.parametrize(
    ("names", "values"),
    [
        # The states the API, the CLI and the console show and filter by.
        (IncidentState, ["open", "acknowledged", "muted", "resolved"]),
        # The actions of the API's paths, the CLI's commands and Slack's buttons.
        (Action, ["ack", "mute", "unmute", "resolve"]),
        # Where an action came from, as recorded with it.
        (ActionSource, ["slack", "api", "cli"]),
        # The outcome the API and the CLI answer with.
        (Outcome, ["done", "unchanged", "duplicate", "refused", "unknown"]),
    ],
)
def test_the_names_others_read(names: type[StrEnum], values: list[str]) -> None:
    assert [member.value for member in names] == values


@pytest.mark.parametrize(
    ("choice", "seconds"),
    [
        # The "Mute for…" menu: one hour, four, a day.
        ("1h", 3600.0),
        ("4h", 14400.0),
        ("24h", 86400.0),
    ],
)
def test_mute_durations(choice: str, seconds: float) -> None:
    assert decide_action(OPEN, Action.MUTE, choice, now=NOW).mute_until == NOW + seconds
    assert list(MUTE_FOR) == ["1h", "4h", "24h"]


AUTO_RESOLVED = replace(OPEN, resolved_at=NOW - 60)


@pytest.mark.parametrize(
    ("incident", "action", "argument", "why"),
    [
        # What the person who acted is told, case by case.
        (None, Action.ACK, None, "No such incident."),
        (OPEN, Action.ACK, None, "Acknowledged."),
        (
            replace(OPEN, acked_at=NOW - 120),
            Action.ACK,
            None,
            "Already acknowledged by someone at 07:58 UTC.",
        ),
        (UNLABELLED, Action.MUTE, "1h", "This incident has no labels to mute it by."),
        (OPEN, Action.MUTE, "1h", "Muted."),
        (OPEN, Action.UNMUTE, None, "This incident is not muted."),
        (MUTED, Action.UNMUTE, None, "Unmuted."),
        (OPEN, Action.RESOLVE, None, "Resolved."),
        # Resolved after a quiet spell, by no one.
        (
            AUTO_RESOLVED,
            Action.ACK,
            None,
            "This incident is already resolved (resolved at 07:59 UTC).",
        ),
    ],
)
def test_what_the_person_who_acted_is_told(
    incident: IncidentRow | None, action: Action, argument: str | None, why: str
) -> None:
    assert decide_action(incident, action, argument, now=NOW).why == why


@pytest.mark.parametrize(
    ("source", "comment"),
    [
        # A mute's silence says where it came from.
        (ActionSource.SLACK, "muted from Slack"),
        (ActionSource.API, "muted from the admin API"),
        (ActionSource.CLI, "muted from the CLI"),
    ],
)
def test_a_mutes_silence_says_where_it_came_from(source: ActionSource, comment: str) -> None:
    actor = Actor("ops", "ops", source)
    assert mute_silence(OPEN, actor, until=NOW + 60, silence_id="s", now=NOW).comment == comment


def test_resolve_in_the_thread_and_an_automatic_resolution_in_the_message() -> None:
    assert (
        action_sentence(Action.RESOLVE, BOB, now=NOW, until=None) == "Resolved by Bob · 08:00 UTC"
    )
    # Resolved by quiet, not by a person: no "Resolved by" line.
    assert mark_lines(mark_of(AUTO_RESOLVED, NOW)) == []


def test_an_actor_and_a_verdict_are_values() -> None:
    with pytest.raises(AttributeError):
        BOB.name = "Eve"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        decide_action(OPEN, Action.ACK, None, now=NOW).why = "x"  # type: ignore[misc]
