"""Slack: a Block Kit message per incident, its plain-text fallback, and thread replies.

Every string that comes from a failure (messages, prompts, model ids, error types,
generation ids, user e-mails) or from configuration is escaped for mrkdwn (`&`, `<`,
`>`) — also inside code blocks, in plain_text and in the fallback — so `<!channel>`,
`<@U123>` or `<http://evil|click>` in an error message can neither ping anyone nor hide
a link. The only pings are the notification's `mentions` (validated ids and keywords,
never failure text), in Slack's own syntax, at the top of its text and of its thread
reply. Backticks inside code are replaced by a look-alike so a message cannot close its
code block. Block Kit limits are kept by construction (at most 8 blocks) and by visible
truncation: header ≤ 150 characters, section text ≤ 3,000, field ≤ 2,000.

In bot mode the message ends with the incident's buttons (action ids are a contract, see
`ACK` … `UNMUTE`): each button's `value`, and the actions block's `block_id` (for the
"Mute for…" menu, whose option values are durations), carry the incident's id and
nothing else — the interaction endpoint looks the incident up, it never trusts state
from a click.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from receiver.engine.incidents import MUTE_FOR, IncidentState, incident_id, mark_lines
from receiver.model import Notification, Reason
from receiver.notifiers.render import facts, words
from receiver.notifiers.render.facts import ELLIPSIS, TIMES, RenderOptions
from receiver.templating import Target
from receiver.templating import escape_mrkdwn as escape

HEADER_CHARS = 150
SECTION_CHARS = 3000
FIELD_CHARS = 2000
# chat.postMessage's `text` is cut by Slack beyond 40,000; notifications show far less.
FALLBACK_CHARS = 3000
SAMPLE_IDS = 5
THREAD_NEW_ERRORS = 3

# Slack action ids of the incident's buttons.
ACK = "failwatch.ack"
MUTE = "failwatch.mute"
RESOLVE = "failwatch.resolve"
UNMUTE = "failwatch.unmute"
OPEN = "failwatch.open"
ACTION_IDS = frozenset({ACK, MUTE, RESOLVE, UNMUTE})

Block = dict[str, Any]
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")
# U+02CB MODIFIER LETTER GRAVE ACCENT: looks like a backtick, ends no code span.
_BACKTICK_LOOKALIKE = "\u02cb"


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """The arguments of chat.postMessage / chat.update / an incoming webhook.

    `attachments` holds one attachment while the incident is open: the category's colour
    (the bar Slack draws beside it) around what to do about it. A resolved message has
    none, and an update sends the empty list so that Slack removes the old one.
    """

    text: str
    blocks: list[Block]
    attachments: list[Block]


def escape_code(text: str) -> str:
    """Text for inside a code span or block: escaped, and unable to close it."""
    return escape(text).replace("`", _BACKTICK_LOOKALIKE)


def cut(escaped: str, limit: int) -> str:
    """Escaped text cut to `limit` characters with a visible ellipsis, never in the
    middle of an entity (a dangling `&am` would show as garbage)."""
    if len(escaped) <= limit:
        return escaped
    head = _PARTIAL_ENTITY.sub("", escaped[: limit - len(ELLIPSIS)])
    return head + ELLIPSIS


def slack_message(notification: Notification, options: RenderOptions | None = None) -> SlackMessage:
    """The incident's message: posted first, then updated in place."""
    options = options or RenderOptions()
    if notification.digest:
        return _digest_message(notification, options)
    # Rendered once for the blocks and the fallback text (a template renders in a sandbox).
    title = words.title(notification, options.templates, Target.SLACK)
    summary = words.summary(notification, options.templates, Target.SLACK)
    blocks: list[Block] = [
        _header(notification, title),
        _mrkdwn_section(_pinged(notification, summary)),
        _fields(notification),
    ]
    if notification.top_errors:
        blocks.append(_mrkdwn_section(top_errors(notification, options, limit=SECTION_CHARS)))
    notes = _notes(notification)
    if notes:
        blocks.append(_context(notes))
    marks = _marks(notification)
    if marks:
        blocks.append(_context(marks))
    links = _links(notification, options)
    if links:
        blocks.append(_context(links))
    if options.actions:
        buttons = _actions(notification, options)
        if buttons is not None:
            blocks.append(buttons)
    style = facts.style(notification)
    attachments = (
        [{"color": style.colour, "blocks": [_context(escape(style.action))]}]
        if style.action
        else []
    )
    return SlackMessage(
        text=_fallback(notification, title, summary), blocks=blocks, attachments=attachments
    )


def _digest_message(notification: Notification, options: RenderOptions) -> SlackMessage:
    """A digest: its header, why it was sent, and one line per held-back group."""
    listed = "\n".join(f"• {escape(line)}" for line in facts.digest_lines(notification))
    blocks = [
        _header(notification, words.title(notification, options.templates, Target.SLACK)),
        _mrkdwn_section(escape(facts.status(notification))),
        _mrkdwn_section(listed),
        _context(_links(notification, options)),
    ]
    text = f"{escape(facts.headline(notification))}\n{listed}"
    return SlackMessage(text=cut(text, FALLBACK_CHARS), blocks=blocks, attachments=[])


def fallback_text(notification: Notification, options: RenderOptions | None = None) -> str:
    """What notifications and clients without Block Kit show."""
    templates = (options or RenderOptions()).templates
    return _fallback(
        notification,
        words.title(notification, templates, Target.SLACK),
        words.summary(notification, templates, Target.SLACK),
    )


def _fallback(notification: Notification, title: str, summary: str) -> str:
    lines = [f"{facts.slack_emoji(notification)} {title}", summary]
    if notification.top_errors:
        first = notification.top_errors[0]
        lines.append(f"Top error: {first.count}{TIMES} {escape(facts.one_line(first.message))}")
    return _pinged(notification, cut("\n".join(lines), FALLBACK_CHARS))


def slack_mention(mention: str) -> str:
    """A mention in Slack's syntax: `<!here>`, `<!channel>`, `<!subteam^S…>`, `<@U…>`."""
    if mention in ("here", "channel"):
        return f"<!{mention}>"
    if mention.startswith("S"):
        return f"<!subteam^{mention}>"
    return f"<@{mention}>"


def _pinged(notification: Notification, text: str) -> str:
    """`text` after a first line of the notification's mentions, if it has any."""
    if not notification.mentions:
        return text
    return " ".join(slack_mention(m) for m in notification.mentions) + "\n" + text


def thread_reply(notification: Notification) -> str:
    """What changed since the last flush, for a reply in the incident's thread."""
    if notification.reason is Reason.ACTION and notification.action:
        return cut(escape(notification.action), SECTION_CHARS)
    line = escape(facts.status(notification))
    if notification.resolved:
        return f"{facts.RESOLVED_STYLE.slack_emoji} {line}"
    lines = [line]
    for error in facts.new_errors(notification)[:THREAD_NEW_ERRORS]:
        message = escape_code(facts.one_line(error.message))
        lines.append(f":new: New error ({error.count}{TIMES}): `{message}`")
    return _pinged(notification, cut("\n".join(lines), SECTION_CHARS))


def top_errors(notification: Notification, options: RenderOptions, *, limit: int) -> str:
    """`*Top errors*` and a code block, one error per line, as many as fit in `limit`."""
    title = "*Top errors*"
    if facts.new_errors(notification):
        title += " (NEW = first seen in this update)"
    opening, closing = f"{title}\n```\n", "\n```"
    shown = notification.top_errors[: options.max_errors]
    width = facts.count_width(shown)
    budget = limit - len(opening) - len(closing)
    lines: list[str] = []
    used = 0
    for index, error in enumerate(shown):
        line = escape_code(facts.error_line(error, width))
        prompt = facts.prompt(error)
        if prompt:  # under its error's message, so the two read as one entry
            line += "\n" + escape_code(" " * facts.message_indent(width) + prompt)
        more = _more_errors(len(notification.top_errors) - index - 1)
        # Room for this line, and for the "… more" line if others must then be left out.
        if used + len(line) + 1 + len(more) + 1 > budget:
            lines.append(_more_errors(len(notification.top_errors) - index))
            break
        lines.append(line)
        used += len(line) + 1
    else:
        if len(notification.top_errors) > len(shown):
            lines.append(_more_errors(len(notification.top_errors) - len(shown)))
    return opening + "\n".join(lines) + closing


def _more_errors(number: int) -> str:
    return f"{ELLIPSIS} and {facts.count(number, 'more distinct error')}" if number else ""


def _header(notification: Notification, title: str) -> Block:
    text = cut(f"{facts.slack_emoji(notification)} {title}", HEADER_CHARS)
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _fields(notification: Notification) -> Block:
    n = notification
    pairs = [
        ("Category", facts.category(n)),
        ("Error type", facts.error_types(n)),
        ("Model", facts.model(n)),
        ("Failures", facts.failure_counts(n)),
        ("Users affected", str(n.users_affected)),
        ("First seen", facts.utc(n.first_seen)),
        ("Last seen", facts.utc(n.last_seen)),
    ]
    fields = [
        {"type": "mrkdwn", "text": cut(f"*{label}*\n{escape(value)}", FIELD_CHARS)}
        for label, value in pairs
    ]
    return {"type": "section", "fields": fields}


def _notes(notification: Notification) -> str:
    notes: list[str] = []
    if notification.sample_generation_ids:
        ids = ", ".join(
            escape(facts.one_line(gid, 64))
            for gid in notification.sample_generation_ids[:SAMPLE_IDS]
        )
        notes.append(f"Sample generations: {ids}")
    users = facts.users(notification)
    if users:
        notes.append(escape(users))
    if notification.silenced:
        notes.append(f":mute: {facts.count(notification.silenced, 'more failure')} silenced")
    return "  ·  ".join(notes)


def _links(notification: Notification, options: RenderOptions) -> str:
    links = [
        _link(url, label)
        for url, label in (
            (options.dashboard_url, "Supabase dashboard"),
            (options.admin_api_url, "Failed generations (admin API)"),
        )
        if url
    ]
    links.append(f"failwatch · receiver {escape(facts.one_line(notification.receiver, 100))}")
    return "  ·  ".join(links)


def _marks(notification: Notification) -> str:
    """Who acknowledged, muted or resolved the incident."""
    if notification.incident is None:
        return ""
    return "  ·  ".join(escape(line) for line in mark_lines(notification.incident))


def _actions(notification: Notification, options: RenderOptions) -> Block | None:
    """The incident's buttons, as its state allows; None when there are none."""
    incident = notification.incident
    ident = incident.id if incident else incident_id(notification.group_key, notification.episode)
    state = IncidentState(incident.state) if incident else IncidentState.OPEN
    if notification.resolved:
        state = IncidentState.RESOLVED
    elements: list[Block] = []
    if state is not IncidentState.RESOLVED:
        if incident is None or incident.acked_at is None:
            elements.append(_button(ACK, "Acknowledge", ident, style="primary"))
        if state is IncidentState.MUTED:
            elements.append(_button(UNMUTE, "Unmute", ident))
        else:
            elements.append(_mute_menu())
        elements.append(_button(RESOLVE, "Resolve", ident))
    if options.public_url:
        url = f"{options.public_url.rstrip('/')}/incidents/{ident}"
        elements.append(
            {
                "type": "button",
                "action_id": OPEN,
                "text": {"type": "plain_text", "text": "Open"},
                "url": url,
            }
        )
    if not elements:
        return None
    return {"type": "actions", "block_id": ident, "elements": elements}


def _button(action_id: str, label: str, ident: str, *, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": ident,
    }
    if style:
        button["style"] = style
    return button


def _mute_menu() -> Block:
    return {
        "type": "static_select",
        "action_id": MUTE,
        "placeholder": {"type": "plain_text", "text": "Mute for…"},
        "options": [
            {"text": {"type": "plain_text", "text": f"Mute for {duration}"}, "value": duration}
            for duration in MUTE_FOR
        ],
    }


def _link(url: str, label: str) -> str:
    # Inside <url|label>, `|` and `>` would end the URL early: percent-encode them.
    safe = escape(url).replace("|", "%7C")
    return f"<{safe}|{escape(label)}>"


def _mrkdwn_section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SECTION_CHARS)}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(text, FIELD_CHARS)}]}
