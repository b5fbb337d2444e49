"""E-mail: the subject, a plain-text body and an HTML body of one notification.

The HTML is built for mail clients rather than browsers: tables for layout, inline
styles only, no images, no scripts, a fixed maximum width — the subset that Gmail,
Outlook and Apple Mail all render alike. Every value is HTML-escaped. The subject is a
single line of printable characters (header sanitising itself happens where headers
are set, in the notifier), and the same for every message of an incident — Gmail and
Outlook split a thread whose subject changes — so counts and state live in the body.
"""

from __future__ import annotations

from html import escape

from receiver.model import ErrorCount, Notification
from receiver.notifiers.render import facts, words
from receiver.notifiers.render.facts import RenderOptions
from receiver.templating import Target

SUBJECT_PREFIX = "[failwatch]"
SUBJECT_CHARS = words.SUBJECT_CHARS
SAMPLE_IDS = 5

_FONT = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
_MONO = "SFMono-Regular,Menlo,Consolas,'Liberation Mono',monospace"
_NEW_COLOUR = "#d93f0b"
_MUTED = "#57606a"
_BORDER = "#d0d7de"


def subject(notification: Notification, options: RenderOptions | None = None) -> str:
    """`[failwatch] ⏳ rate_limit · flux-pro`, from the first message of an incident to its
    resolution (the category's emoji, even once resolved), or the receiver's
    `email_subject`; a digest says what it holds."""
    n = notification
    if n.digest:
        return facts.one_line(
            f"{SUBJECT_PREFIX} {facts.DIGEST_STYLE.emoji} {facts.summary(n)}", SUBJECT_CHARS
        )
    emoji = facts.category_style(n).emoji
    builtin = facts.one_line(f"{SUBJECT_PREFIX} {emoji} {facts.topic(n)}", SUBJECT_CHARS)
    templates = (options or RenderOptions()).templates
    # One line of at most SUBJECT_CHARS either way: the builtin is, and so is a template's.
    return words.email_subject(n, templates, builtin)


def text_body(notification: Notification, options: RenderOptions | None = None) -> str:
    options = options or RenderOptions()
    n = notification
    action = facts.style(n).action
    title = words.title(n, options.templates, Target.TEXT)
    status = words.summary(n, options.templates, Target.TEXT)
    lines = [title, "", status, *([action] if action else []), ""]
    if n.digest:
        lines += [f"  {line}" for line in facts.digest_lines(n)]
        return "\n".join([*lines, "", "-- ", _footer(n)]) + "\n"
    width = max(len(label) for label, _ in _fields(n)) + 2
    lines += [f"{label + ':':<{width}}{value}" for label, value in _fields(n)]
    shown = n.top_errors[: options.max_errors]
    if shown:
        width = facts.count_width(shown)
        lines += ["", "Top errors" + (" (NEW = first seen in this update)" if _any_new(n) else "")]
        for error in shown:
            lines.append(f"  {facts.error_line(error, width)}")
            prompt = facts.prompt(error)
            if prompt:
                lines.append(f"  {' ' * facts.message_indent(width)}{prompt}")
        if len(n.top_errors) > len(shown):
            lines.append(f"  {_more(len(n.top_errors) - len(shown))}")
    notes = _notes(n)
    if notes:
        lines += ["", *notes]
    links = _links(options)
    if links:
        lines += ["", *(f"{label}: {url}" for label, url in links)]
    lines += ["", "-- ", _footer(n)]
    return "\n".join(lines) + "\n"


def html_body(
    notification: Notification,
    options: RenderOptions | None = None,
    *,
    subject_line: str | None = None,
) -> str:
    """The HTML part; `subject_line` is the message's subject when the caller has rendered
    it already (a template renders in a sandbox: once per e-mail is enough)."""
    options = options or RenderOptions()
    n = notification
    style = facts.style(n)
    colour = style.colour
    title = words.title(n, options.templates, Target.HTML, builtin=facts.summary(n))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(subject_line if subject_line is not None else subject(n, options))}"
        "</title></head>",
        f'<body style="margin:0;padding:0;background:#f6f8fa;font-family:{_FONT};color:#1f2328;">',
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"'
        ' style="background:#f6f8fa;"><tr><td align="center" style="padding:24px 12px;">',
        '<table role="presentation" width="640" cellpadding="0" cellspacing="0" border="0"'
        f' style="width:100%;max-width:640px;background:#ffffff;border:1px solid {_BORDER};'
        f'border-top:4px solid {colour};border-radius:6px;">',
        f'<tr><td style="padding:20px 24px 0 24px;">{_badge(n, style)}</td></tr>',
        f'<tr><td style="padding:8px 24px 4px 24px;font-size:20px;line-height:28px;'
        f'font-weight:600;">{title}</td></tr>',
        f'<tr><td style="padding:0 24px 16px 24px;font-size:14px;line-height:20px;'
        f'color:{colour};">{words.summary(n, options.templates, Target.HTML)}'
        + (f"<br>{escape(style.action)}" if style.action else "")
        + "</td></tr>",
    ]
    if n.digest:
        listed = "<br>".join(escape(line) for line in facts.digest_lines(n))
        parts.append(f'<tr><td style="padding:0 24px 16px 24px;font-size:14px;">{listed}</td></tr>')
    else:
        parts.append(f'<tr><td style="padding:0 24px 16px 24px;">{_fields_table(n)}</td></tr>')
    if n.top_errors:
        parts.append(
            f'<tr><td style="padding:0 24px 16px 24px;">{_errors_table(n, options)}</td></tr>'
        )
    notes = _notes(n)
    if notes:
        parts.append(
            f'<tr><td style="padding:0 24px 12px 24px;font-size:13px;line-height:18px;'
            f'color:{_MUTED};">{"<br>".join(escape(note) for note in notes)}</td></tr>'
        )
    links = _links(options)
    if links:
        buttons = " ".join(_button(url, label) for label, url in links)
        parts.append(f'<tr><td style="padding:4px 24px 16px 24px;">{buttons}</td></tr>')
    parts += [
        f'<tr><td style="padding:12px 24px;border-top:1px solid {_BORDER};font-size:12px;'
        f'line-height:16px;color:{_MUTED};">{escape(_footer(n))}</td></tr>',
        "</table></td></tr></table></body></html>",
    ]
    return "\n".join(parts) + "\n"


def _badge(notification: Notification, style: facts.Style) -> str:
    # The word carries the meaning where a client's font lacks the emoji.
    label = "RESOLVED" if notification.resolved else "ONGOING"
    return (
        f'{style.emoji} <span style="display:inline-block;padding:2px 8px;border-radius:10px;'
        f"background:{style.colour};color:#ffffff;font-size:11px;line-height:16px;"
        f'font-weight:700;letter-spacing:0.5px;">{label}</span>'
    )


def _fields(notification: Notification) -> list[tuple[str, str]]:
    n = notification
    return [
        ("Category", facts.category(n)),
        ("Error type", facts.error_types(n)),
        ("Model", facts.one_line(facts.model(n), 500)),
        ("Failures", facts.failure_counts(n)),
        ("Users affected", str(n.users_affected)),
        ("First seen", facts.utc(n.first_seen)),
        ("Last seen", facts.utc(n.last_seen)),
    ]


def _fields_table(notification: Notification) -> str:
    rows = "".join(
        f'<tr><td style="padding:6px 12px 6px 0;width:120px;font-size:13px;color:{_MUTED};'
        f'vertical-align:top;white-space:nowrap;">{escape(label)}</td>'
        f'<td style="padding:6px 0;font-size:14px;vertical-align:top;">{escape(value)}</td></tr>'
        for label, value in _fields(notification)
    )
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"'
        f' style="border-collapse:collapse;">{rows}</table>'
    )


def _errors_table(notification: Notification, options: RenderOptions) -> str:
    shown = notification.top_errors[: options.max_errors]
    cell = f"padding:8px 10px;border-top:1px solid {_BORDER};vertical-align:top;"
    mixed = len({error.error_type for error in shown}) > 1
    rows = "".join(_error_row(error, cell, show_type=mixed) for error in shown)
    hidden = len(notification.top_errors) - len(shown)
    if hidden:
        rows += (
            f'<tr><td colspan="2" style="{cell}font-size:13px;color:{_MUTED};">'
            f"{escape(_more(hidden))}</td></tr>"
        )
    head = f"padding:8px 10px;font-size:12px;color:{_MUTED};text-align:left;font-weight:600;"
    return (
        '<div style="font-size:15px;font-weight:600;padding:0 0 8px 0;">Top errors</div>'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"'
        f' style="border-collapse:collapse;border:1px solid {_BORDER};">'
        f'<tr style="background:#f6f8fa;"><th style="{head}width:64px;text-align:right;">Count</th>'
        f'<th style="{head}">Error</th></tr>{rows}</table>'
    )


def _error_row(error: ErrorCount, cell: str, *, show_type: bool) -> str:
    badge = (
        '<span style="display:inline-block;padding:0 6px;margin-right:6px;border-radius:8px;'
        f"background:{_NEW_COLOUR};color:#ffffff;font-size:11px;line-height:16px;"
        f'font-family:{_FONT};font-weight:600;">NEW</span>'
        if error.new
        else ""
    )
    kind = (
        f'<div style="padding-top:2px;font-size:12px;color:{_MUTED};font-family:{_FONT};">'
        f"{escape(error.error_type)}</div>"
        if error.error_type and show_type
        else ""
    )
    prompt = facts.prompt(error)
    sample = (
        f'<div style="padding-top:4px;font-size:12px;color:{_MUTED};font-family:{_FONT};">'
        f"{escape(prompt)}</div>"
        if prompt
        else ""
    )
    return (
        f'<tr><td style="{cell}text-align:right;font-size:14px;font-weight:600;'
        f'white-space:nowrap;">{error.count}</td>'
        f'<td style="{cell}font-family:{_MONO};font-size:13px;line-height:18px;'
        f'word-break:break-word;">{badge}{escape(facts.one_line(error.message))}{kind}{sample}</td></tr>'
    )


def _button(url: str, label: str) -> str:
    return (
        f'<a href="{escape(url, quote=True)}" style="display:inline-block;padding:8px 14px;'
        f"margin:0 8px 8px 0;border:1px solid {_BORDER};border-radius:6px;color:#0969da;"
        f'text-decoration:none;font-size:14px;">{escape(label)}</a>'
    )


def _notes(notification: Notification) -> list[str]:
    notes = []
    if notification.sample_generation_ids:
        ids = ", ".join(
            facts.one_line(gid, 64) for gid in notification.sample_generation_ids[:SAMPLE_IDS]
        )
        notes.append(f"Sample generations: {ids}")
    users = facts.users(notification)
    if users:
        notes.append(users)
    if notification.silenced:
        notes.append(f"{facts.count(notification.silenced, 'more failure')} silenced")
    return notes


def _links(options: RenderOptions) -> list[tuple[str, str]]:
    return [
        (label, url)
        for label, url in (
            ("Supabase dashboard", options.dashboard_url),
            ("Failed generations (admin API)", options.admin_api_url),
        )
        if url
    ]


def _footer(notification: Notification) -> str:
    n = notification
    return (
        f"failwatch · receiver {facts.one_line(n.receiver, 100)}"
        f" · episode {n.episode}, update {n.sequence}"
    )


def _more(number: int) -> str:
    return f"{facts.ELLIPSIS} and {facts.count(number, 'more distinct error')}"


def _any_new(notification: Notification) -> bool:
    return bool(facts.new_errors(notification))
