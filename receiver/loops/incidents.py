"""Incidents against the store: list them, show one with its timeline, and act on one
(acknowledge, mute, unmute, resolve) — for Slack, the admin API, the CLI and the console.

An action runs in one transaction: lock the incident, skip it if this very action was
recorded before (a Slack retry), let `engine.incidents.decide_action` say what it does,
write the change (a silence for a mute), the `actions` row, and the notification that
updates the incident's message and says what happened in its thread. The notification
goes through the outbox like any other, so an outage of Slack or a crash loses nothing,
and three replicas given the same click write it once.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from receiver.config.integrations import IntegrationSpec
from receiver.engine.incidents import (
    Action,
    Actor,
    Outcome,
    Verdict,
    action_sentence,
    decide_action,
    group_key_of,
    is_incident_id,
    mark_of,
    mute_silence,
    state_of,
)
from receiver.engine.notification import action_notification, episode_streams
from receiver.loops.flush import enqueue, load_details, resolve_episode, write_notification
from receiver.model import Reason
from receiver.rows import ActionRow, GroupDetails, IncidentRow, OutboxRow
from receiver.store import Store, outbox
from receiver.store import groups as stored_groups
from receiver.store import incidents as stored
from receiver.store import silences as stored_silences
from receiver.store.incidents import IncidentFilter
from receiver.store.tx import Tx
from receiver.timefmt import iso

__all__ = [
    "ActionResult",
    "IncidentFilter",
    "IncidentTimeline",
    "act",
    "describe",
    "describe_timeline",
    "incident_counts",
    "incident_details",
    "list_incidents",
    "show_incident",
]

Integrations = Mapping[str, Sequence[IntegrationSpec]]
# What an incident's page lists: more than a notification has room for.
DETAIL_ERRORS = 50
DETAIL_USERS = 50


@dataclass(frozen=True, slots=True)
class ActionResult:
    outcome: Outcome
    # For the person who acted: what happened, or why nothing did.
    message: str
    # The incident after the action (None if there is no such incident).
    incident: IncidentRow | None


@dataclass(frozen=True, slots=True)
class IncidentTimeline:
    """One incident, the notifications written about it and the actions taken on it."""

    incident: IncidentRow
    notifications: tuple[OutboxRow, ...]
    actions: tuple[ActionRow, ...]


def describe(incident: IncidentRow, *, now: float) -> dict[str, object]:
    """An incident as the admin API, the CLI and the console show it."""
    muted = state_of(incident, now).value == "muted"
    return {
        "id": incident.id,
        "state": state_of(incident, now).value,
        "labels": incident.labels,
        "category": incident.labels.get("category"),
        "modelId": incident.labels.get("model_id"),
        "receiver": incident.receiver,
        "openedAt": iso(incident.opened_at),
        "firstSeen": iso(incident.first_seen),
        "lastSeen": iso(incident.last_seen),
        "failures": incident.failures,
        "usersAffected": incident.users_affected,
        "acknowledgedBy": incident.acked_by,
        "acknowledgedAt": iso(incident.acked_at),
        "mutedBy": incident.muted_by if muted else None,
        "mutedUntil": iso(incident.muted_until) if muted else None,
        "silenceId": incident.silence_id if muted else None,
        "resolvedBy": incident.resolved_by,
        "resolvedAt": iso(incident.resolved_at),
    }


def describe_timeline(timeline: IncidentTimeline, *, now: float) -> dict[str, object]:
    """An incident with the notifications written about it and the actions taken."""
    return {
        **describe(timeline.incident, now=now),
        "notifications": [
            {
                "id": row.notification.id,
                "reason": row.notification.reason.value,
                "action": row.notification.action,
                "receiver": row.receiver,
                "integration": row.integration,
                "status": row.status,
                "attempts": row.attempts,
                "createdAt": iso(row.created_at),
                "sentAt": iso(row.sent_at),
                "lastError": row.last_error,
            }
            for row in timeline.notifications
        ],
        "actions": [
            {
                "action": a.action,
                "argument": a.argument,
                "actorId": a.actor_id,
                "actorName": a.actor_name,
                "team": a.team,
                "source": a.source,
                "at": iso(a.created_at),
            }
            for a in timeline.actions
        ],
    }


async def list_incidents(store: Store, query: IncidentFilter, *, now: float) -> list[IncidentRow]:
    """Incidents matching `query`, the most recently opened first."""
    return await store.read(lambda tx: stored.search(tx, query, now=now))


async def incident_counts(store: Store, *, now: float) -> dict[str, int]:
    """How many incidents are in each state (open, acknowledged, muted, resolved)."""
    return await store.read(lambda tx: stored.count_by_state(tx, now=now))


async def incident_details(store: Store, incident: IncidentRow) -> GroupDetails | None:
    """The episode's distinct errors (with counts and samples) and affected users, as its
    notifications show them; None when its group is gone."""

    def read(tx: Tx) -> GroupDetails | None:
        group = stored_groups.find_group(tx, incident.group_key)
        if group is None:
            return None
        episode = dataclasses.replace(group, episode=incident.episode)
        return stored_groups.load_details(
            tx, episode, top_errors=DETAIL_ERRORS, sample_users=DETAIL_USERS, listed=DETAIL_USERS
        )

    return await store.read(read)


async def show_incident(store: Store, incident_id: str) -> IncidentTimeline | None:
    """One incident with its timeline; None if there is no such incident."""
    if not is_incident_id(incident_id):
        return None

    def read(tx: Tx) -> IncidentTimeline | None:
        incident = stored.find(tx, incident_id)
        if incident is None:
            return None
        streams = episode_streams(incident.group_key, incident.episode)
        return IncidentTimeline(
            incident=incident,
            notifications=tuple(outbox.in_streams(tx, streams)),
            actions=tuple(stored.actions_of(tx, incident_id)),
        )

    return await store.read(read)


async def act(
    store: Store,
    incident_id: str,
    action: Action,
    actor: Actor,
    *,
    integrations: Integrations,
    now: float,
    argument: str | None = None,
    action_ts: str | None = None,
) -> ActionResult:
    """Do `action` to an incident as `actor`. `argument` is the mute's duration (`1h`,
    `4h`, `24h`); `action_ts` names this very action (Slack's `action_ts`), so that doing
    it again changes nothing — without one, each call is a new action."""
    if not is_incident_id(incident_id):
        return ActionResult(Outcome.UNKNOWN, "No such incident.", None)
    ts = action_ts if action_ts is not None else uuid.uuid4().hex
    return await store.write(
        lambda tx: _act(
            tx,
            incident_id,
            action,
            actor,
            argument=argument,
            action_ts=ts,
            integrations=integrations,
            now=now,
        )
    )


def _act(
    tx: Tx,
    incident_id: str,
    action: Action,
    actor: Actor,
    *,
    argument: str | None,
    action_ts: str,
    integrations: Integrations,
    now: float,
) -> ActionResult:
    # Locks in the order a flush takes them (group, then incident), so that an action and
    # a flush of the same group on two replicas wait for each other, never deadlock.
    stored_groups.lock_group(tx, group_key_of(incident_id))
    incident = stored.find(tx, incident_id, lock=True)
    if stored.action_seen(tx, source=actor.source.value, actor_id=actor.id, action_ts=action_ts):
        return ActionResult(Outcome.DUPLICATE, "Already done.", incident)
    verdict = decide_action(incident, action, argument, now=now)
    if verdict.outcome is not Outcome.DONE or incident is None:
        return ActionResult(verdict.outcome, verdict.why, incident)
    action_id = stored.add_action(
        tx,
        incident_id,
        action=action.value,
        argument=argument if action is Action.MUTE else None,
        actor_id=actor.id,
        actor_name=actor.name,
        team=actor.team,
        action_ts=action_ts,
        source=actor.source.value,
        now=now,
    )
    assert action_id is not None, "the action was looked up under the incident's lock"
    _apply(tx, incident, action, actor, verdict, now=now)
    after = stored.find(tx, incident_id)
    assert after is not None
    _notify(tx, after, action, actor, verdict, action_id, integrations=integrations, now=now)
    return ActionResult(Outcome.DONE, verdict.why, after)


def _apply(
    tx: Tx, incident: IncidentRow, action: Action, actor: Actor, verdict: Verdict, *, now: float
) -> None:
    match action:
        case Action.ACK:
            stored.acknowledge(tx, incident.id, at=now, by=actor.name)
        case Action.MUTE:
            assert verdict.mute_until is not None
            silence = mute_silence(
                incident, actor, until=verdict.mute_until, silence_id=str(uuid.uuid4()), now=now
            )
            stored_silences.add(tx, silence.to_row())
            stored.set_mute(tx, incident.id, silence_id=silence.id, by=actor.name)
        case Action.UNMUTE:
            assert incident.silence_id is not None
            stored_silences.expire(tx, incident.silence_id, now=now)
            stored.set_mute(tx, incident.id, silence_id=None, by=None)
        case Action.RESOLVE:
            group = stored_groups.find_group(tx, incident.group_key)
            if group is not None and group.episode == incident.episode and not group.resolved:
                resolve_episode(tx, group, by=actor.name, now=now)
            else:  # the group is gone or moved on: end the incident as it was
                stored.close(
                    tx,
                    incident.id,
                    resolved_at=now,
                    resolved_by=actor.name,
                    failures=incident.failures,
                    first_seen=incident.first_seen,
                    last_seen=incident.last_seen,
                )


def _notify(
    tx: Tx,
    incident: IncidentRow,
    action: Action,
    actor: Actor,
    verdict: Verdict,
    action_id: int,
    *,
    integrations: Integrations,
    now: float,
) -> None:
    """Update the incident's message and tell its thread — if a message was ever sent
    (an incident still in `group_wait` shows the change in its first message)."""
    group = stored_groups.find_group(tx, incident.group_key)
    if group is None or group.episode != incident.episode or group.flushes == 0:
        return
    specs = integrations.get(group.receiver, ())
    if action is Action.RESOLVE:
        # Like a resolve by quiet time: every integration hears of it.
        write_notification(tx, group, Reason.RESOLVED, specs, now=now)
        return
    notification = action_notification(
        group,
        load_details(tx, group),
        incident=mark_of(incident, now),
        action_id=action_id,
        sentence=action_sentence(action, actor, now=now, until=verdict.mute_until),
        now=now,
    )
    enqueue(tx, notification, [s for s in specs if s.updates_in_place], now=now)
