"""Rendering: a notification → what Slack, e-mail and the console show (pure functions,
no I/O but a failing template's warning in the log).

`facts` words the notification once; `words` puts a receiver's templates in place of the
built-in title, summary and subject; `blocks` turns it into Block Kit (escaped for mrkdwn),
`mail` into a subject, a text body and an HTML body (escaped for HTML), `terminal` into the
console's one line.
"""

from receiver.notifiers.render.blocks import SlackMessage, slack_message, thread_reply
from receiver.notifiers.render.facts import RenderOptions
from receiver.notifiers.render.mail import html_body, subject, text_body

__all__ = [
    "RenderOptions",
    "SlackMessage",
    "html_body",
    "slack_message",
    "subject",
    "text_body",
    "thread_reply",
]
