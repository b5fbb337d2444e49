"""`failwatch incident list|show|ack|resolve`: the incidents of the state store, and the
same actions as Slack's buttons and the admin API (recorded with source `cli`)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from receiver.cli.state import current_user, with_store
from receiver.config.settings import load_settings
from receiver.engine.incidents import Action, ActionSource, Actor, Outcome
from receiver.loops.incidents import (
    IncidentFilter,
    act,
    describe,
    describe_timeline,
    list_incidents,
    show_incident,
)
from receiver.notifiers.registry import specs_by_receiver
from receiver.store.incidents import STATES
from receiver.timefmt import parse_iso


def register(commands: Any, config_option: Callable[[argparse.ArgumentParser], None]) -> None:
    incident = commands.add_parser("incident", help="list, show and act on incidents")
    actions = incident.add_subparsers(dest="incident_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="incidents, most recently opened first")
    config_option(listing)
    listing.add_argument("--state", choices=STATES)
    listing.add_argument("--category")
    listing.add_argument("--model", help="model_id")
    listing.add_argument("--since", type=parse_iso, help="ISO 8601: still open at or after")
    listing.add_argument("--until", type=parse_iso, help="ISO 8601: opened at or before")
    listing.add_argument("--text", help="in a label or an error message")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=_list)
    show = actions.add_parser("show", help="one incident with its notifications and actions")
    config_option(show)
    show.add_argument("id")
    show.set_defaults(handler=_show)
    for name, action, what in (
        ("ack", Action.ACK, "acknowledge an incident (no repeats until it ends)"),
        ("resolve", Action.RESOLVE, "resolve an incident now"),
    ):
        command = actions.add_parser(name, help=what)
        config_option(command)
        command.add_argument("id")
        command.add_argument("--actor", default=None, help="who acts (default: $USER)")
        command.set_defaults(handler=_act, action=action)


def _list(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    query = IncidentFilter(
        state=args.state,
        category=args.category,
        model_id=args.model,
        since=args.since,
        until=args.until,
        text=args.text,
        limit=max(1, min(args.limit, 500)),
    )
    now = time.time()
    for incident in with_store(settings, lambda s: list_incidents(s, query, now=now)):
        print(json.dumps(describe(incident, now=now)))
    return 0


def _show(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    timeline = with_store(settings, lambda s: show_incident(s, args.id))
    if timeline is None:
        print(f"failwatch: no incident {args.id}", file=sys.stderr)
        return 1
    print(json.dumps(describe_timeline(timeline, now=time.time()), indent=2))
    return 0


def _act(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    name = args.actor or current_user()
    actor = Actor(name, name, ActionSource.CLI)
    integrations = specs_by_receiver(settings)
    result = with_store(
        settings,
        lambda s: act(s, args.id, args.action, actor, integrations=integrations, now=time.time()),
    )
    if result.outcome in (Outcome.UNKNOWN, Outcome.REFUSED) or result.incident is None:
        print(f"failwatch: {result.message}", file=sys.stderr)
        return 1
    print(json.dumps({"outcome": result.outcome.value, "message": result.message}))
    return 0
