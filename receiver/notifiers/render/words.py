"""A receiver's own words: its templates (`templates:` of the receiver) for the title,
the summary line and the e-mail subject, rendered for one notification and one target.

A template sees `fields(notification)` — a plain mapping of the incident's facts, worded
as the built-in text words them, plus `default`, the built-in text of the slot it
replaces — and nothing else (`receiver.templating` keeps it there). A receiver without a
template for a slot gets the built-in text, unchanged; so does a digest, which is no
incident. A template that fails to render (a field the notification lacks, a loop that
runs too long) is logged and the built-in text is sent: a notification never waits on a
template. `check-config` renders every template against sample notifications first.
"""

from __future__ import annotations

import logging
from typing import Any

from receiver.config.receivers import TemplatesConfig
from receiver.engine.incidents import incident_id
from receiver.model import Notification
from receiver.notifiers.render import facts
from receiver.templating import Target, Template, TemplateProblem, escape_for

log = logging.getLogger(__name__)

# Longer output is cut: each slot's text is one line, and each place bounds it again.
TITLE_CHARS = 150
SUMMARY_CHARS = 500
SUBJECT_CHARS = 200
# The slots, as `templates:` names them.
SLOTS = ("title", "summary", "email_subject")


def fields(notification: Notification, *, default: str = "") -> dict[str, Any]:
    """What a template may use: strings, numbers, booleans, and lists and mappings of
    them — each text on one line and bounded, as the built-in text shows it."""
    n = notification
    incident = n.incident
    return {
        "reason": n.reason.value,
        "receiver": facts.one_line(n.receiver, facts.LABEL_CHARS),
        "category": facts.category(n),
        "model": facts.model(n),
        "labels": {
            facts.one_line(name, facts.LABEL_CHARS): facts.one_line(value, facts.LABEL_CHARS)
            for name, value in sorted(n.labels.items())
        },
        "models": [facts.one_line(m, facts.LABEL_CHARS) for m in n.models],
        "error_types": [facts.one_line(t, facts.LABEL_CHARS) for t in n.error_types],
        "window_failures": n.window_failures,
        "episode_failures": n.episode_failures,
        "users_affected": n.users_affected,
        "silenced": n.silenced,
        "resolved": n.resolved,
        "first_seen": facts.utc(n.first_seen),
        "last_seen": facts.utc(n.last_seen),
        "top_errors": [
            {
                "message": facts.one_line(error.message),
                "count": error.count,
                "error_type": facts.one_line(error.error_type or "", facts.LABEL_CHARS),
                "new": error.new,
            }
            for error in n.top_errors
        ],
        "top_error": facts.one_line(n.top_errors[0].message) if n.top_errors else "",
        "incident": incident.id if incident else incident_id(n.group_key, n.episode),
        "state": "resolved" if n.resolved else (incident.state if incident else "open"),
        "episode": n.episode,
        "update": n.sequence,
        "emoji": facts.category_style(n).emoji,
        "headline": facts.headline(n),
        "status": facts.status(n),
        "topic": facts.topic(n),
        "default": default,
    }


def title(
    notification: Notification,
    templates: TemplatesConfig,
    target: Target,
    *,
    builtin: str | None = None,
) -> str:
    """`37 failures · rate_limit · flux-pro` (or `builtin`, where a rendering words its
    title its own way), or the receiver's `title`, for `target`."""
    text = facts.headline(notification) if builtin is None else builtin
    return _words(notification, templates.title, "title", target, text, TITLE_CHARS)


def summary(notification: Notification, templates: TemplatesConfig, target: Target) -> str:
    """`New incident: 37 failures since 14:03 UTC.`, or the receiver's `summary`."""
    builtin = facts.status(notification)
    return _words(notification, templates.summary, "summary", target, builtin, SUMMARY_CHARS)


def email_subject(notification: Notification, templates: TemplatesConfig, builtin: str) -> str:
    """The receiver's `email_subject` as plain text on one line, else `builtin`."""
    n = notification
    return _words(n, templates.email_subject, "email_subject", Target.TEXT, builtin, SUBJECT_CHARS)


def problems(templates: TemplatesConfig, samples: list[Notification]) -> list[str]:
    """Each template's error on any of `samples` for any target, as `title: …`."""
    found = []
    for slot in SLOTS:
        template = getattr(templates, slot)
        if template is None:
            continue
        for sample in samples:
            try:
                for target in Target:
                    template.render(fields(sample), target, limit=SUMMARY_CHARS)
            except TemplateProblem as exc:
                found.append(f"{slot}: {exc} (rendering a {sample.reason.value} notification)")
                break
    return found


def _words(
    notification: Notification,
    template: Template | None,
    slot: str,
    target: Target,
    builtin: str,
    limit: int,
) -> str:
    escape = escape_for(target)
    if template is None or notification.digest:
        return escape(builtin)
    try:
        text = template.render(fields(notification, default=builtin), target, limit=limit)
    except TemplateProblem as exc:
        log.warning(
            "template failed; the built-in text was used",
            extra={"receiver": notification.receiver, "template": slot, "error": str(exc)},
        )
        return escape(builtin)
    return facts.one_line(text, limit)
