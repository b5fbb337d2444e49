"""The stand-ins refuse what the real services refuse, so tests that pass against them
mean something."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.standins.slack import SlackStandIn
from tests.standins.smtp import SmtpStandIn


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(channels={"alerts": "C0ALERTS01"}, strict_channels=True) as server:
        yield server


def api(slack: SlackStandIn, method: str, body: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token or slack.token}"}
    response = httpx.post(f"{slack.api_url}{method}", json=body, headers=headers)
    return response.status_code, response.json(), response.headers


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"channel": "#alerts"}, "no_text"),
        ({"channel": "#alerts", "text": "x" * 40001}, "msg_too_long"),
        ({"channel": "#alerts", "blocks": [header("x" * 151)]}, "invalid_blocks"),
        ({"channel": "#alerts", "blocks": [header("ok")] * 51}, "invalid_blocks"),
        (
            {
                "channel": "#alerts",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
            },
            "invalid_blocks",
        ),
        (
            {
                "channel": "#alerts",
                "blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
            },
            "invalid_blocks",
        ),
        ({"channel": "#elsewhere", "text": "hi"}, "channel_not_found"),
        ({"channel": "#alerts", "text": "hi", "thread_ts": "1.000001"}, "thread_not_found"),
    ],
)
def test_slack_refuses_what_slack_refuses(
    slack: SlackStandIn, body: dict[str, Any], error: str
) -> None:
    status, answer, _ = api(slack, "chat.postMessage", body)
    assert (status, answer) == (200, {"ok": False, "error": error})
    assert slack.messages == {}


def test_slack_checks_the_token(slack: SlackStandIn) -> None:
    _, answer, _ = api(slack, "chat.postMessage", {"channel": "#alerts", "text": "hi"}, "xoxb-no")
    assert answer == {"ok": False, "error": "invalid_auth"}


def test_slack_records_posts_updates_and_replies(slack: SlackStandIn) -> None:
    slack.reset()
    _, posted, _ = api(slack, "chat.postMessage", {"channel": "#alerts", "text": "one"})
    assert posted["channel"] == "C0ALERTS01"
    ts = posted["ts"]
    api(slack, "chat.update", {"channel": "C0ALERTS01", "ts": ts, "text": "two"})
    api(slack, "chat.postMessage", {"channel": "C0ALERTS01", "text": "re", "thread_ts": ts})
    _, missing, _ = api(slack, "chat.update", {"channel": "C0ALERTS01", "ts": "9.9", "text": "x"})
    message = slack.messages[ts]
    assert (message.text, [r.text for r in message.history]) == ("two", ["one"])
    assert [reply.text for reply in message.replies] == ["re"]
    assert missing == {"ok": False, "error": "message_not_found"}
    assert [call.method for call in slack.calls] == [
        "chat.postMessage",
        "chat.update",
        "chat.postMessage",
        "chat.update",
    ]


def test_slack_fails_on_demand(slack: SlackStandIn) -> None:
    slack.fail_next(status=429, retry_after=12, method="chat.postMessage")
    status, answer, headers = api(slack, "chat.postMessage", {"channel": "#alerts", "text": "x"})
    assert (status, answer, headers["retry-after"]) == (
        429,
        {"ok": False, "error": "ratelimited"},
        "12",
    )
    slack.fail_next(status=503, method="webhook")
    assert httpx.post(slack.webhook_url, json={"text": "x"}).status_code == 503
    assert httpx.post(slack.webhook_url, json={"text": "x"}).text == "ok"
    wrong = slack.webhook_url[:-4] + "0000"
    assert (httpx.post(wrong, json={"text": "x"}).status_code, slack.webhook_messages[-1]) == (
        404,
        {"text": "x"},
    )


def test_smtp_requires_starttls_and_auth_when_configured() -> None:
    with SmtpStandIn(tls="starttls", username="u", password="p") as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo()
            code, _ = client.mail("a@example.com")
            assert code == 530  # STARTTLS first
            client.starttls(context=server.client_tls_context())
            client.ehlo()
            code, _ = client.mail("a@example.com")
            assert code == 530  # then AUTH
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("u", "wrong")
            client.login("u", "p")
            client.sendmail("a@example.com", ["b@example.com"], b"Subject: hi\r\n\r\nbody\r\n")
        [mail] = server.messages
        assert (mail.tls, mail.authenticated_as, mail.message["Subject"]) == (True, "u", "hi")
