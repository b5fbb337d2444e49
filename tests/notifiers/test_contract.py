"""The contract every notifier keeps, checked the same way for each integration.

For each way a delivery can fail, the notifier raises `DeliveryError` with the right
`retryable` and `reason` (and `retry_after` from a 429) — and no secret (bot token,
webhook URL, SMTP password) appears in the error, its traceback, the notifier's repr or
any log line, even at debug level.
"""

from __future__ import annotations

import logging
import secrets
import socket
import ssl
import traceback
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from receiver.errors import DeliveryError
from receiver.model import Notification, Reason
from receiver.notifiers.base import Notifier
from receiver.notifiers.email import EmailNotifier
from receiver.notifiers.slack import SlackNotifier
from tests.notifiers.conftest import SMTP_PASSWORD, SMTP_USER
from tests.notifiers.samples import later, notification
from tests.standins.slack import SlackStandIn
from tests.standins.smtp import SmtpStandIn

pytestmark = pytest.mark.anyio

INTEGRATIONS = ["slack-webhook", "slack-bot", "email"]


@dataclass(frozen=True)
class Case:
    integration: str
    failure: str
    retryable: bool
    reason: str
    retry_after: float | None = None


CASES = [
    Case("slack-webhook", "429", True, "rateLimited", retry_after=7.0),
    Case("slack-webhook", "500", True, "serverError"),
    Case("slack-webhook", "503", True, "serverError"),
    Case("slack-webhook", "404 no_service", False, "authError"),
    Case("slack-webhook", "403 invalid_token", False, "authError"),
    Case("slack-webhook", "400 invalid_payload", False, "clientError"),
    Case("slack-webhook", "410 channel_is_archived", False, "clientError"),
    Case("slack-webhook", "connection refused", True, "network"),
    Case("slack-webhook", "timeout", True, "network"),
    Case("slack-bot", "429", True, "rateLimited", retry_after=30.0),
    Case("slack-bot", "429 on chat.update", True, "rateLimited", retry_after=2.0),
    Case("slack-bot", "500", True, "serverError"),
    Case("slack-bot", "ok:false internal_error", True, "serverError"),
    Case("slack-bot", "wrong token", False, "authError"),
    Case("slack-bot", "ok:false account_inactive", False, "authError"),
    Case("slack-bot", "ok:false channel_not_found", False, "clientError"),
    Case("slack-bot", "ok:false not_in_channel", False, "clientError"),
    Case("slack-bot", "400 invalid_arguments", False, "clientError"),
    Case("slack-bot", "connection refused", True, "network"),
    Case("slack-bot", "timeout", True, "network"),
    Case("email", "451 at DATA", True, "serverError"),
    Case("email", "421 at MAIL", True, "serverError"),
    Case("email", "452 for every recipient", True, "serverError"),
    Case("email", "550 for every recipient", False, "clientError"),
    Case("email", "554 at DATA", False, "clientError"),
    Case("email", "wrong password", False, "authError"),
    Case("email", "no credentials", False, "authError"),
    Case("email", "untrusted certificate", False, "tlsError"),
    Case("email", "no STARTTLS offered", False, "clientError"),
    Case("email", "connection refused", True, "network"),
    Case("email", "timeout", True, "network"),
]


@dataclass
class Rig:
    notifier: Notifier
    secrets: tuple[str, ...]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def slack_rig(slack: SlackStandIn, integration: str, *, timeout: int = 5, **kw: str) -> Rig:
    if integration == "slack-webhook":
        url = kw.get("url", slack.webhook_url)
        secret_path = url.rsplit("/", 1)[1]
        notifier = SlackNotifier(webhook_url=SecretStr(url), timeout=timeout)
        return Rig(notifier, (url, secret_path))
    token = kw.get("token", slack.token)
    notifier = SlackNotifier(
        bot_token=SecretStr(token),
        channel="#alerts",
        api_url=kw.get("api_url", slack.api_url),
        timeout=timeout,
    )
    return Rig(notifier, (token, slack.token))


def email_rig(server: SmtpStandIn, **overrides: object) -> Rig:
    options: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "tls": server.tls,
        "sender": "failwatch@alerts.example.com",
        "recipients": ["oncall@example.com", "ml@example.com"],
        "timeout": 5.0,
        "local_hostname": "failwatch.test",
    }
    if server.tls != "none":
        options.update(
            username=SMTP_USER,
            password=SecretStr(SMTP_PASSWORD),
            tls_context=server.client_tls_context(),
        )
    options.update(overrides)
    password = options.get("password")
    used = password.get_secret_value() if isinstance(password, SecretStr) else SMTP_PASSWORD
    return Rig(EmailNotifier(**options), (used, SMTP_PASSWORD))  # type: ignore[arg-type]


def arrange(case: Case, slack: SlackStandIn, smtp: dict[str, SmtpStandIn]) -> Rig:
    """A notifier, and the stand-ins primed so that its next send fails as `case` says."""
    kind, failure = case.integration, case.failure
    if kind.startswith("slack"):
        method = "webhook" if kind == "slack-webhook" else None
        status, _, error = failure.partition(" ")
        if failure == "connection refused":
            base = f"http://127.0.0.1:{closed_port()}"
            url = f"{base}/services/T0/B0/{secrets.token_hex(12)}"
            return slack_rig(slack, kind, url=url, api_url=f"{base}/api/")
        if failure == "timeout":
            slack.fail_next(delay=2.5, method=method)
            return slack_rig(slack, kind, timeout=1)
        if failure == "wrong token":
            return slack_rig(slack, kind, token="xoxb-" + secrets.token_hex(16))
        if failure == "429 on chat.update":
            slack.fail_next(status=429, retry_after=2, method="chat.update")
        elif status == "ok:false":
            slack.fail_next(error=error, method=method)
        else:
            retry_after = case.retry_after if status == "429" else None
            slack.fail_next(status=int(status), error=error or None, retry_after=retry_after)
        return slack_rig(slack, kind)
    match failure:
        case "451 at DATA" | "554 at DATA":
            smtp["starttls"].fail_next(code=int(failure[:3]), stage="DATA")
        case "421 at MAIL":
            smtp["starttls"].fail_next(code=421, stage="MAIL")
        case "452 for every recipient" | "550 for every recipient":
            smtp["starttls"].fail_next(code=int(failure[:3]), stage="RCPT", times=2)
        case "wrong password":
            wrong = SecretStr("wrong-" + secrets.token_hex(8))
            return email_rig(smtp["starttls"], password=wrong)
        case "no credentials":
            return email_rig(smtp["starttls"], username=None, password=None)
        case "untrusted certificate":
            return email_rig(smtp["tls"], tls_context=ssl.create_default_context())
        case "no STARTTLS offered":
            return email_rig(
                smtp["none"], tls="starttls", username=SMTP_USER, password=SecretStr(SMTP_PASSWORD)
            )
        case "connection refused":
            return email_rig(smtp["starttls"], port=closed_port())
        case "timeout":
            smtp["starttls"].fail_next(code=451, stage="DATA", delay=3)
            return email_rig(smtp["starttls"], timeout=0.5)
    return email_rig(smtp["starttls"])


def the_flush(case: Case, slack: SlackStandIn) -> Notification:
    if case.failure == "429 on chat.update":
        thread = {"channel": slack.channel_id("alerts"), "ts": "1700000000.000001"}
        return later(2, Reason.NEW_FAILURES, thread=thread)
    return notification()


def assert_no_secret(rig: Rig, texts: list[str]) -> None:
    for secret in rig.secrets:
        for text in texts:
            assert secret not in text


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.integration}: {c.failure}")
async def test_failures_are_classified_and_leak_no_secret(
    case: Case,
    slack: SlackStandIn,
    smtp: dict[str, SmtpStandIn],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    rig = arrange(case, slack, smtp)
    with pytest.raises(DeliveryError) as caught:
        await rig.notifier.send(the_flush(case, slack))
    error = caught.value
    assert (error.retryable, error.reason) == (case.retryable, case.reason), str(error)
    assert error.retry_after == case.retry_after
    assert str(error)
    texts = [
        str(error),
        repr(error),
        "".join(traceback.format_exception(error)),
        rig.notifier.destination,
        repr(rig.notifier),
        caplog.text,
        *(record.getMessage() for record in caplog.records),
        *(repr(record.__dict__) for record in caplog.records),
    ]
    assert_no_secret(rig, texts)
    await rig.notifier.close()


@pytest.mark.parametrize("integration", INTEGRATIONS)
async def test_a_delivery_logs_no_secret_even_at_debug_level(
    integration: str,
    slack: SlackStandIn,
    smtp: dict[str, SmtpStandIn],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    rig = email_rig(smtp["starttls"]) if integration == "email" else slack_rig(slack, integration)
    refs = await rig.notifier.send(notification())
    assert refs is None or all(isinstance(v, str) for v in refs.values())
    assert rig.notifier.integration == integration.split("-")[0]
    assert_no_secret(rig, [caplog.text, rig.notifier.destination, repr(rig.notifier)])
    await rig.notifier.close()


def test_every_integration_has_failure_cases() -> None:
    assert {case.integration for case in CASES} == set(INTEGRATIONS)
    for integration in INTEGRATIONS:
        kinds = {(c.retryable, c.reason) for c in CASES if c.integration == integration}
        assert (True, "network") in kinds
        assert any(not retryable for retryable, _ in kinds)
