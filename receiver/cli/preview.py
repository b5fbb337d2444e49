"""`failwatch preview`: what a receiver's Slack message and e-mail would say, with its
templates, for a sample incident or a real one — and the check `check-config` runs on
every receiver's templates (each rendered against sample notifications)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from typing import Any

from receiver.cli.send_test import sample
from receiver.cli.state import with_store
from receiver.config.receivers import ReceiverConfig
from receiver.config.settings import Settings, load_settings
from receiver.loops.incidents import show_incident
from receiver.model import ErrorCount, Notification, Reason
from receiver.notifiers.registry import admin_api_url
from receiver.notifiers.render import RenderOptions, slack_message, subject, text_body
from receiver.notifiers.render.words import problems


def register(commands: Any, config_option: Any) -> None:
    parser = commands.add_parser(
        "preview", help="print what a receiver's Slack message and e-mail would say"
    )
    config_option(parser)
    parser.add_argument("--receiver", required=True, metavar="NAME")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--incident", metavar="ID", help="its latest notification")
    source.add_argument("--sample", action="store_true", help="a sample incident (the default)")
    parser.set_defaults(handler=_preview)


def samples(receiver: str, *, now: float) -> list[Notification]:
    """A sample incident's first message, an update with a new error, and its resolution:
    between them, every field a template can use has a value."""
    limited = ErrorCount(
        fingerprint="0" * 16,
        message="Rate limit exceeded: 429 Too Many Requests (retry after 20s)",
        error_type="RateLimitError",
        count=3,
    )
    first = sample(receiver, now=now).model_copy(
        update={"id": "preview-1", "group_key": "preview", "top_errors": (limited,)}
    )
    new = ErrorCount(
        fingerprint="1" * 16,
        message="Upstream returned 503 Service Unavailable",
        error_type="ProviderError",
        count=2,
        new=True,
    )
    update = first.model_copy(
        update={
            "id": "preview-2",
            "sequence": 2,
            "reason": Reason.NEW_ERROR,
            "window_failures": 2,
            "episode_failures": 5,
            "top_errors": (new, *first.top_errors),
            "created_at": now + 300,
            "last_seen": now + 290,
        }
    )
    resolved = update.model_copy(
        update={
            "id": "preview-3",
            "sequence": 3,
            "reason": Reason.RESOLVED,
            "window_failures": 0,
            "top_errors": tuple(e.model_copy(update={"new": False}) for e in update.top_errors),
            "created_at": now + 2100,
        }
    )
    return [first, update, resolved]


def template_problems(settings: Settings) -> list[str]:
    """Every receiver's templates rendered against the samples: what failed, by receiver."""
    now = time.time()
    return [
        f"receiver {name}: template {problem}"
        for name, receiver in settings.receiver_map().items()
        for problem in problems(receiver.templates, samples(name, now=now))
    ]


def _preview(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    receiver = settings.receiver_map().get(args.receiver)
    if receiver is None:
        print(f"failwatch: no receiver named {args.receiver!r}", file=sys.stderr)
        return 2
    if args.incident:
        notification = with_store(settings, lambda store: _latest(store, args.incident))
        if notification is None:
            print(f"failwatch: incident {args.incident} has no notification", file=sys.stderr)
            return 1
    else:
        notification = samples(receiver.name, now=time.time())[0]
    notification = notification.model_copy(update={"receiver": receiver.name})
    print(_rendered(notification, receiver, settings))
    return 0


async def _latest(store: Any, incident_id: str) -> Notification | None:
    """The incident's latest notification about its failures (not an action's)."""
    timeline = await show_incident(store, incident_id)
    if timeline is None:
        return None
    flushes = [r.notification for r in timeline.notifications if r.notification.action is None]
    return flushes[-1] if flushes else None


def _rendered(notification: Notification, receiver: ReceiverConfig, settings: Settings) -> str:
    options = RenderOptions(
        dashboard_url=settings.dashboard_url,
        admin_api_url=admin_api_url(settings),
        templates=receiver.templates,
        actions=any(slack.webhook_url is None for slack in receiver.slack),
        public_url=settings.public_url,
    )
    message = dataclasses.asdict(slack_message(notification, options))
    email_options = dataclasses.replace(options, actions=False, public_url=None)
    return "\n".join(
        [
            f"== Slack (receiver {receiver.name}) ==",
            json.dumps(message, indent=2, ensure_ascii=False),
            "",
            f"== E-mail (receiver {receiver.name}) ==",
            f"Subject: {subject(notification, email_options)}",
            "",
            text_body(notification, email_options),
        ]
    )
