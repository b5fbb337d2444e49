"""Rendering: a notification → what Slack and e-mail show (pure functions, no I/O).

`facts` words the notification once; `blocks` turns it into Block Kit (escaped for
mrkdwn), `mail` into a subject, a text body and an HTML body (escaped for HTML).
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
