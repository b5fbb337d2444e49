"""Incidents: one episode of one group, and what acknowledge, mute, unmute and resolve do
to it.

An incident's id is its group's key and the episode's number (`<key>-<episode>`): stable
across restarts and replicas, URL-safe, and never reused, so a button on an old message
can only ever act on the episode it was posted for. Its state is, in this order:
`resolved` (the episode ended), `muted` (a silence made for it is running),
`acknowledged` (someone took it), else `open`. Acknowledging stops `repeat` re-posts
until the episode ends; a new episode is a new incident, unacknowledged.

`decide_action` is pure (the clock passed in); `loops.incidents` runs it against the store
and writes what it says in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from receiver.engine.matchers import Matcher
from receiver.engine.silences import Silence, SilenceRequest, new_silence
from receiver.model import IncidentMark
from receiver.rows import IncidentRow
from receiver.timefmt import hhmm

_ID = re.compile(r"^[0-9a-f]{24}-[1-9][0-9]{0,9}$")

# The choices of Slack's "Mute for…" menu (and of the API and CLI).
MUTE_FOR: Mapping[str, float] = {"1h": 3600.0, "4h": 4 * 3600.0, "24h": 24 * 3600.0}


class IncidentState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    MUTED = "muted"
    RESOLVED = "resolved"


class Action(StrEnum):
    ACK = "ack"
    MUTE = "mute"
    UNMUTE = "unmute"
    RESOLVE = "resolve"


class ActionSource(StrEnum):
    """Where an action came from (recorded with it)."""

    SLACK = "slack"
    API = "api"
    CLI = "cli"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a Slack user (id `U…`, name, team) or whoever called the API or CLI."""

    id: str
    name: str
    source: ActionSource
    team: str | None = None


class Outcome(StrEnum):
    DONE = "done"  # the incident changed
    UNCHANGED = "unchanged"  # it already was that way (a double click): nothing to do
    DUPLICATE = "duplicate"  # this very action was recorded before (a Slack retry)
    REFUSED = "refused"  # the action does not apply (resolved, bad duration, …)
    UNKNOWN = "unknown"  # no such incident


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    # Said to the person who acted (Slack shows it only to them).
    why: str
    # For a mute that is done: when its silence ends.
    mute_until: float | None = None


def incident_id(group_key: str, episode: int) -> str:
    return f"{group_key}-{episode}"


def group_key_of(incident: str) -> str:
    """The group an incident id names (the id must be one: see `is_incident_id`)."""
    return incident.rpartition("-")[0]


def is_incident_id(text: str) -> bool:
    """Whether `text` has the form of an incident id (say, from a URL or a button)."""
    return _ID.fullmatch(text) is not None


def state_of(incident: IncidentRow, now: float) -> IncidentState:
    if incident.resolved_at is not None:
        return IncidentState.RESOLVED
    if incident.muted_until is not None and incident.muted_until > now:
        return IncidentState.MUTED
    if incident.acked_at is not None:
        return IncidentState.ACKNOWLEDGED
    return IncidentState.OPEN


def mark_of(incident: IncidentRow, now: float) -> IncidentMark:
    """What a message shows of the incident at `now`."""
    state = state_of(incident, now)
    muted = state is IncidentState.MUTED
    return IncidentMark(
        id=incident.id,
        state=state.value,
        acked_by=incident.acked_by,
        acked_at=incident.acked_at,
        muted_by=incident.muted_by if muted else None,
        muted_until=incident.muted_until if muted else None,
        resolved_by=incident.resolved_by,
        resolved_at=incident.resolved_at,
    )


def decide_action(
    incident: IncidentRow | None, action: Action, argument: str | None, *, now: float
) -> Verdict:
    """What `action` does to `incident` at `now`."""
    if incident is None:
        return Verdict(Outcome.UNKNOWN, "No such incident.")
    state = state_of(incident, now)
    if state is IncidentState.RESOLVED:
        outcome = Outcome.UNCHANGED if action is Action.RESOLVE else Outcome.REFUSED
        return Verdict(outcome, f"This incident is already resolved ({_resolved(incident)}).")
    match action:
        case Action.ACK:
            if incident.acked_at is not None:
                by = incident.acked_by or "someone"
                return Verdict(
                    Outcome.UNCHANGED,
                    f"Already acknowledged by {by} at {hhmm(incident.acked_at)}.",
                )
            return Verdict(Outcome.DONE, "Acknowledged.")
        case Action.MUTE:
            seconds = MUTE_FOR.get(argument or "")
            if seconds is None:
                return Verdict(Outcome.REFUSED, "Mute for one of: " + ", ".join(MUTE_FOR) + ".")
            if not incident.labels:
                return Verdict(Outcome.REFUSED, "This incident has no labels to mute it by.")
            if state is IncidentState.MUTED:
                assert incident.muted_until is not None
                return Verdict(Outcome.UNCHANGED, f"Already {_muted(incident)}.")
            return Verdict(Outcome.DONE, "Muted.", mute_until=now + seconds)
        case Action.UNMUTE:
            if state is not IncidentState.MUTED:
                return Verdict(Outcome.UNCHANGED, "This incident is not muted.")
            return Verdict(Outcome.DONE, "Unmuted.")
        case Action.RESOLVE:
            return Verdict(Outcome.DONE, "Resolved.")


def mute_silence(
    incident: IncidentRow, actor: Actor, *, until: float, silence_id: str, now: float
) -> Silence:
    """The silence a mute creates: the incident's labels, until `until`, by the actor."""
    comment = {
        ActionSource.SLACK: "muted from Slack",
        ActionSource.API: "muted from the admin API",
        ActionSource.CLI: "muted from the CLI",
    }[actor.source]
    request = SilenceRequest(
        matchers=tuple(
            Matcher(name, "=", value) for name, value in sorted(incident.labels.items())
        ),
        ends_at=until,
        comment=comment,
        author=f"{actor.source.value}:{actor.id}",
    )
    return new_silence(request, silence_id=silence_id, now=now)


def action_sentence(action: Action, actor: Actor, *, now: float, until: float | None) -> str:
    """What the incident's thread says about an action that was done."""
    match action:
        case Action.ACK:
            return f"Acknowledged by {actor.name} · {hhmm(now)}"
        case Action.MUTE:
            assert until is not None
            return f"Muted until {hhmm(until)} by {actor.name}"
        case Action.UNMUTE:
            return f"Unmuted by {actor.name} · {hhmm(now)}"
        case Action.RESOLVE:
            return f"Resolved by {actor.name} · {hhmm(now)}"


def mark_lines(mark: IncidentMark) -> list[str]:
    """What a message says of who acted on its incident (plain text, unescaped)."""
    lines = []
    if mark.resolved_by is not None and mark.resolved_at is not None:
        lines.append(f"Resolved by {mark.resolved_by} · {hhmm(mark.resolved_at)}")
    if mark.muted_until is not None:
        lines.append(f"Muted until {hhmm(mark.muted_until)} by {mark.muted_by or 'someone'}")
    if mark.acked_at is not None:
        lines.append(f"Acknowledged by {mark.acked_by or 'someone'} · {hhmm(mark.acked_at)}")
    return lines


def _resolved(incident: IncidentRow) -> str:
    assert incident.resolved_at is not None
    by = f" by {incident.resolved_by}" if incident.resolved_by else ""
    return f"resolved{by} at {hhmm(incident.resolved_at)}"


def _muted(incident: IncidentRow) -> str:
    assert incident.muted_until is not None
    return f"muted until {hhmm(incident.muted_until)} by {incident.muted_by or 'someone'}"
