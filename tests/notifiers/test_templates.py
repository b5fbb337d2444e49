"""A receiver's templates through the real notifiers: Slack (slack-sdk against the Slack
stand-in) and e-mail (aiosmtplib against the SMTP stand-in), each value escaped for
where it lands, the built-in text when a template fails."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from receiver.config.receivers import TemplatesConfig
from receiver.model import ErrorCount, Notification, Reason
from receiver.notifiers.render import RenderOptions, html_body, slack_message, subject, text_body
from receiver.notifiers.slack import SlackNotifier
from receiver.templating import escape_mrkdwn
from tests.notifiers.samples import later, notification
from tests.notifiers.test_email import mailer, parts
from tests.standins.slack import SlackStandIn
from tests.standins.smtp import SmtpStandIn

pytestmark = pytest.mark.anyio

HOSTILE = "<!channel> & <http://evil.test|click> </td><script>x</script>\r\nBcc: victim@evil.test"


def templates(**sources: str) -> TemplatesConfig:
    return TemplatesConfig.model_validate(sources)


def bot(slack: SlackStandIn, own: TemplatesConfig) -> SlackNotifier:
    return SlackNotifier(
        bot_token=SecretStr(slack.token),
        channel="#alerts",
        api_url=slack.api_url,
        timeout=5,
        templates=own,
    )


def hostile(**changes: Any) -> Notification:
    error = ErrorCount(fingerprint="fp-h", message=HOSTILE, error_type="Err", count=4)
    return notification(top_errors=(error,), **changes)


async def test_slack_shows_the_templates_and_escapes_what_failures_wrote(
    slack: SlackStandIn,
) -> None:
    own = templates(
        title="{{ category }} on {{ model }}: {{ top_error }}",
        summary="{{ default }} Runbook: <https://runbook.example/{{ category }}|open it>",
    )
    notifier = bot(slack, own)
    await notifier.send(hostile())

    [message] = slack.messages.values()
    escaped = escape_mrkdwn("<!channel> & <http://evil.test|click> </td><script>x</script>")
    assert (
        message.header
        == (f":hourglass_flowing_sand: rate_limit on flux-pro: {escaped} Bcc: victim@evil.test")[
            :149
        ].rstrip()
        + "…"
    )
    section = message.blocks[1]["text"]["text"]
    # The template's own link is kept; the failure's would-be link and ping are not.
    assert section == (
        "New incident: 37 failures since 14:03 UTC."
        " Runbook: <https://runbook.example/rate_limit|open it>"
    )
    assert message.text.startswith(f":hourglass_flowing_sand: rate_limit on flux-pro: {escaped}")
    assert "<!channel>" not in message.text
    assert "<http://evil.test" not in str(message.blocks)


async def test_email_subject_is_one_safe_line_and_the_html_part_is_escaped(
    smtp: dict[str, SmtpStandIn],
) -> None:
    server = smtp["none"]
    own = templates(
        title="{{ category|upper }}: {{ top_error }}",
        summary="Seen {{ episode_failures }} times by {{ users_affected }} users.",
        email_subject="[AI alerts] {{ category }} / {{ model }}\n{{ top_error }}",
    )
    await mailer(server, templates=own).send(hostile())

    [mail] = server.messages
    message = mail.message
    # No header from the failure's text: the CR/LF became a space, in one line.
    assert mail.rcpt_tos == ("oncall@example.com", "ml-team@example.org")
    assert "Bcc" not in message
    assert message["Subject"] == (
        "[AI alerts] rate_limit / flux-pro <!channel> & <http://evil.test|click> "
        "</td><script>x</script> Bcc: victim@evil.test"
    )
    assert message["Thread-Topic"] == message["Subject"]
    raw_headers = mail.data.split(b"\r\n\r\n", 1)[0].decode()
    assert "\nBcc:" not in raw_headers
    bodies = parts(message)
    text, page = bodies["text/plain"], bodies["text/html"]
    assert text.startswith(f"RATE_LIMIT: {HOSTILE.replace(chr(13) + chr(10), ' ')}\n")
    assert "Seen 37 times by 12 users." in text
    assert "<script>" not in page
    assert html.escape("RATE_LIMIT: <!channel> & <http://evil.test|click>") in page
    assert "Seen 37 times by 12 users." in page


async def test_a_template_that_fails_leaves_the_built_in_text(
    slack: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    # Fine on an incident with errors (as check-config's samples have), not without.
    own = templates(title="{{ top_errors[0].message }}")
    notifier = bot(slack, own)
    await notifier.send(notification(top_errors=()))

    [message] = slack.messages.values()
    assert message.header == ":hourglass_flowing_sand: 37 failures · rate_limit · flux-pro"
    records = [r for r in caplog.records if r.name == "receiver.notifiers.render.words"]
    # The header and the fallback text each tried it.
    assert {(r.levelname, r.__dict__["receiver"], r.__dict__["template"]) for r in records} == {
        ("WARNING", "oncall", "title")
    }
    assert "list object has no element 0" in records[0].__dict__["error"]


def test_without_templates_the_built_in_text_is_unchanged() -> None:
    for n in (notification(), later(3, Reason.NEW_ERROR), later(4, Reason.RESOLVED)):
        plain, empty = RenderOptions(), RenderOptions(templates=TemplatesConfig())
        assert slack_message(n, plain) == slack_message(n, empty)
        assert html_body(n, plain) == html_body(n, empty)
        # The defaults, spelled as templates, give the same words.
        spelled = RenderOptions(templates=templates(title="{{ headline }}", summary="{{ status }}"))
        assert slack_message(n, spelled) == slack_message(n, plain)
        assert text_body(n, spelled) == text_body(n, plain)


@settings(deadline=None, max_examples=100)
@given(st.text(max_size=200), st.text(max_size=60))
def test_failure_text_in_templates_comes_out_escaped_everywhere(message: str, model: str) -> None:
    own = RenderOptions(
        templates=templates(
            title="{{ model }} · {{ top_error }}",
            summary="{% for e in top_errors %}{{ e.message }}{% endfor %}",
            email_subject="{{ model }} {{ top_error }}",
        )
    )
    error = ErrorCount(fingerprint="f", message=message, count=1)
    n = notification(top_errors=(error,), labels={"category": "timeout", "model_id": model})
    slack_text = str(slack_message(n, own).blocks[:2]) + slack_message(n, own).text
    for special in ("<", ">"):
        assert special not in slack_text.replace("<https://", "")
    page = html_body(n, own)
    body = page.split("<body", 1)[1]
    # Every tag in the page is failwatch's own: the failure's text is all escaped.
    tags = set(re.findall(r"<\s*/?\s*([^\s>/]*)", body))
    assert tags <= {"table", "tr", "td", "th", "div", "span", "br", "a", "body", "html"}
    line = subject(n, own)
    assert "\n" not in line
    assert "\r" not in line
    assert len(line) <= 200
