"""What every rendering says about a notification, before any markup.

Slack and e-mail show the same facts — a headline, a status sentence, the fields, the top
errors — so they are worded once here, as plain (unescaped) text. Each renderer escapes
them for its own markup. Times are UTC and come from the notification alone, never from
the clock, so a rendering is a pure function of its input.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from receiver.config.receivers import TemplatesConfig
from receiver.model import ErrorCount, Notification, Reason
from receiver.text import is_control
from receiver.timefmt import hhmm

STUCK = "stuck"


@dataclass(frozen=True, slots=True)
class Style:
    """How an incident of one category looks: Slack's emoji short code, the same emoji
    for e-mail, a colour (Slack's bar, the e-mail's border and badge), and what the
    person on call does about it."""

    slack_emoji: str
    emoji: str
    colour: str
    action: str = ""


STYLES: dict[str, Style] = {
    "quota": Style(
        ":moneybag:", "\U0001f4b0", "#8250df",
        "Out of credit or over a spend limit: top up or raise the limit. Retrying will not help.",
    ),
    "rate_limit": Style(
        ":hourglass_flowing_sand:", "\u23f3", "#9a6700",
        "Too many requests: it passes by itself; slow down or ask for a higher limit.",
    ),
    "timeout": Style(
        ":stopwatch:", "\u23f1\ufe0f", "#bc4c00",
        "Requests ran out of time: check the provider's latency and the timeouts you set.",
    ),
    "content_policy": Style(
        ":no_entry_sign:", "\U0001f6ab", "#cf222e",
        "Prompts or outputs were refused by a safety system: nothing is broken.",
    ),
    "invalid_input": Style(
        ":pencil2:", "\u270f\ufe0f", "#0969da",
        "The provider refused the request: fix what the app sends (model, parameters, sizes).",
    ),
    "auth": Style(
        ":key:", "\U0001f511", "#1b7c83",
        "The key or the account's access was refused: check or rotate the API key.",
    ),
    "provider_unavailable": Style(
        ":electric_plug:", "\U0001f50c", "#953800",
        "The provider is down, overloaded or unreachable: wait, or fail over.",
    ),
    "model_error": Style(
        ":boom:", "\U0001f4a5", "#a40e26",
        "The model or its worker failed (memory, bad output): check the model and its workers.",
    ),
    "unknown": Style(
        ":grey_question:", "\u2754", "#6e7781",
        "No rule recognised this error: `failwatch classify` shows why; add a rule.",
    ),
    STUCK: Style(
        ":turtle:", "\U0001f422", "#6639ba",
        "Generations stopped in processing: check the workers that run them.",
    ),
}  # fmt: skip
# A category from a rule of your own, and any incident once resolved.
CUSTOM_STYLE = Style(":rotating_light:", "\U0001f6a8", "#d93f0b")
RESOLVED_STYLE = Style(":white_check_mark:", "\u2705", "#1a7f37")
# A digest is no incident of its own: a neutral look, and no "what to do".
DIGEST_STYLE = Style(":inbox_tray:", "\U0001f4e5", "#6e7781")

ELLIPSIS = "\u2026"
TIMES = "\u00d7"  # the multiplication sign of "37 times"
# One error message is shown on one line, at most this long: enough to recognise it.
MESSAGE_CHARS = 300
# Sample prompts are cut to 200 when stored; this only guards a longer stored one.
PROMPT_CHARS = 200
EMAIL_CHARS = 254
# A label (model, category, error type) as a heading or a field shows it: one line, bounded.
LABEL_CHARS = 100
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderOptions:
    """Links added to every rendering, used verbatim (e.g. the project's Supabase
    dashboard, and failwatch's admin API listing of failed generations)."""

    dashboard_url: str | None = None
    admin_api_url: str | None = None
    # Slack in bot mode: buttons to acknowledge, mute and resolve the incident.
    actions: bool = False
    # failwatch's own URL: an "Open" button to the incident's page (with `actions`).
    public_url: str | None = None
    # Top errors beyond this are summarised as "… and N more".
    max_errors: int = 10
    # The receiver's own title, summary line and e-mail subject (none: the built-in text).
    templates: TemplatesConfig = field(default_factory=TemplatesConfig)


def style(notification: Notification) -> Style:
    if notification.digest:
        return DIGEST_STYLE
    if notification.resolved:
        return RESOLVED_STYLE
    return category_style(notification)


def category_style(notification: Notification) -> Style:
    """The look of the incident's category, open or resolved."""
    return STYLES.get(category(notification), CUSTOM_STYLE)


def slack_emoji(notification: Notification) -> str:
    return style(notification).slack_emoji


def category(notification: Notification) -> str:
    return one_line(notification.labels.get("category") or "", LABEL_CHARS) or "unknown"


def model(notification: Notification) -> str:
    """The group's model, else the groups an overflow group stands for, else the models
    its failures used."""
    if notification.folded:
        return folded(notification)
    label = one_line(notification.labels.get("model_id") or "", LABEL_CHARS)
    if label:
        return label
    return one_line(", ".join(notification.models), LABEL_CHARS) or "unknown model"


def folded(notification: Notification) -> str:
    """`37 more models failing: flux-a, flux-b, … and 34 others`."""
    n = notification
    noun = n.labels.get("overflow") or "group"
    names = ", ".join(one_line(name, 64) for name in n.folded_names)
    others = n.folded - len(n.folded_names)
    tail = f", {ELLIPSIS} and {count(others, 'other')}" if others > 0 else ""
    return f"{count(n.folded, 'more ' + noun)} failing: {names}{tail}"


def digest_lines(notification: Notification) -> list[str]:
    """`rate_limit on flux-pro — +12 failures (49 in episode)`: one per held-back group."""
    lines = []
    for entry in notification.digest:
        if entry.reason is Reason.RESOLVED:
            what = f"resolved ({entry.episode_failures} in episode)"
        elif entry.reason is Reason.REPEAT:
            what = f"still failing ({entry.episode_failures} in episode)"
        else:
            what = f"+{entry.window_failures} ({entry.episode_failures} in episode)"
        lines.append(f"{one_line(entry.title, 200)} — {what}")
    return lines


def error_types(notification: Notification) -> str:
    listed = ", ".join(notification.error_types) or notification.labels.get("error_type") or ""
    return one_line(listed, LABEL_CHARS) or "—"


def count(number: int, noun: str) -> str:
    """`1 failure`, `37 failures`."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def failures(notification: Notification, number: int) -> str:
    noun = "stuck generation" if category(notification) == STUCK else "failure"
    return count(number, noun)


def headline(notification: Notification) -> str:
    """`37 failures · rate_limit · flux-pro`; `RESOLVED · rate_limit · flux-pro`."""
    if notification.resolved:
        return f"RESOLVED · {category(notification)} · {model(notification)}"
    return summary(notification)


def topic(notification: Notification) -> str:
    """`rate_limit · flux-pro`: the incident in words that stay the same for as long as it
    lasts — no count, no state — from its group's labels alone, so an e-mail subject
    (which clients thread by) never changes: `rate_limit · more models` for an overflow
    group, the other labels' values where the group has no model."""
    n = notification
    noun = n.labels.get("overflow")
    if noun:
        what = f"more {noun}s"
    else:
        what = n.labels.get("model_id") or " · ".join(
            value for name, value in sorted(n.labels.items()) if name != "category" and value
        )
    return one_line(" · ".join(part for part in (category(n), what) if part), 2 * LABEL_CHARS)


def summary(notification: Notification) -> str:
    """`37 failures · rate_limit · flux-pro`, resolved or not."""
    if notification.digest:
        return f"Digest · {count(len(notification.digest), 'group')} with held-back updates"
    return (
        f"{failures(notification, notification.episode_failures)}"
        f" · {category(notification)} · {model(notification)}"
    )


def status(notification: Notification) -> str:
    """One sentence: why this notification was sent now."""
    n = notification
    match n.reason:
        case Reason.FIRST:
            return f"New incident: {failures(n, n.window_failures)} since {clock(n.first_seen)}."
        case Reason.NEW_FAILURES:
            return f"{changes(n)} since the last update."
        case Reason.NEW_ERROR:
            return f"{changes(n)}, including a new error."
        case Reason.REPEAT:
            return (
                f"Still failing: {failures(n, n.episode_failures)} in this episode,"
                f" the last at {clock(n.last_seen)}."
            )
        case Reason.RESOLVED if n.incident is not None and n.incident.resolved_by:
            return (
                f"Resolved by {n.incident.resolved_by}"
                f" ({failures(n, n.episode_failures)} in this episode)."
            )
        case Reason.ACTION:
            return (
                f"Ongoing: {failures(n, n.episode_failures)} in this episode,"
                f" the last at {clock(n.last_seen)}."
            )
        case Reason.RESOLVED:
            return (
                f"Resolved: no new failures for {duration(n.created_at - n.last_seen)}"
                f" ({failures(n, n.episode_failures)} in this episode)."
            )
        case Reason.DIGEST:
            return (
                f"Updates held back since {clock(n.first_seen)} by the receiver's limit"
                " on notifications (new incidents are never held), merged per group:"
            )


def changes(notification: Notification) -> str:
    """`+12 failures (49 in episode)`."""
    n = notification
    return f"+{failures(n, n.window_failures)} ({n.episode_failures} in episode)"


def failure_counts(notification: Notification) -> str:
    """`12 new · 49 in episode`; just `49 in episode` when nothing is new."""
    in_episode = f"{notification.episode_failures} in episode"
    if not notification.window_failures:
        return in_episode
    return f"{notification.window_failures} new · {in_episode}"


def new_errors(notification: Notification) -> tuple[ErrorCount, ...]:
    return tuple(error for error in notification.top_errors if error.new)


def error_line(error: ErrorCount, width: int) -> str:
    """`NEW   12 times  Upstream returned 503` (with the sign): one top error."""
    marker = "NEW " if error.new else "    "
    return f"{marker}{error.count:>{width}}{TIMES}  {one_line(error.message)}"


def message_indent(width: int) -> int:
    """Where an error line's message starts: after the marker, the count and the sign."""
    return 4 + width + 3


def prompt(error: ErrorCount) -> str | None:
    """`Prompt: a cat in a hat`: the error's sample prompt on one line, if it has one."""
    if not error.sample_prompt:
        return None
    return f"Prompt: {one_line(error.sample_prompt, PROMPT_CHARS)}"


def users(notification: Notification) -> str | None:
    """`Users: a@x, b@y`: the sample users' e-mails, when they were looked up."""
    if not notification.sample_user_emails:
        return None
    emails = ", ".join(one_line(e, EMAIL_CHARS) for e in notification.sample_user_emails)
    return f"Users: {emails}"


def count_width(errors: tuple[ErrorCount, ...]) -> int:
    return max((len(str(error.count)) for error in errors), default=1)


def utc(epoch: float) -> str:
    """`2025-01-15 14:03:07 UTC`."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def clock(epoch: float) -> str:
    """`14:03 UTC`: enough within one incident."""
    return hhmm(epoch)


def duration(seconds: float) -> str:
    """`45 s`, `34 min`, `2 h 5 min`, `3 d 4 h`."""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def one_line(text: str, limit: int = MESSAGE_CHARS) -> str:
    """Text for a single line: control and format characters dropped, white space
    folded, cut to `limit` characters with a visible ellipsis."""
    visible = "".join(" " if is_control(char) else char for char in text)
    folded = _SPACES.sub(" ", visible).strip()
    return truncate(folded, limit)


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS
