from __future__ import annotations

import re
from email.message import EmailMessage

import pytest
from pydantic import SecretStr

from receiver.config.addresses import valid_address
from receiver.errors import ConfigError
from receiver.model import Reason
from receiver.notifiers.email import EmailNotifier, TlsMode, header_value
from tests.notifiers.conftest import SMTP_PASSWORD, SMTP_USER
from tests.notifiers.samples import later, notification
from tests.notifiers.snapshots import assert_snapshot
from tests.standins.smtp import SmtpStandIn

pytestmark = pytest.mark.anyio

SENDER = "Failwatch <failwatch@alerts.example.com>"
# The sample incident's first message: its id is derived from the incident id (a digest
# of it: the sample's group key is no safe Message-ID part).
FIRST_ID = "<failwatch.incident.b755de6226c71c2ec33b7b2ee7003ad4@alerts.example.com>"
RECIPIENTS = ("oncall@example.com", "ml-team@example.org")


def mailer(server: SmtpStandIn, **overrides: object) -> EmailNotifier:
    tls: TlsMode = server.tls
    options: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "tls": tls,
        "sender": SENDER,
        "recipients": RECIPIENTS,
        "timeout": 5.0,
        "local_hostname": "failwatch.test",
    }
    if tls != "none":
        options.update(
            username=SMTP_USER,
            password=SecretStr(SMTP_PASSWORD),
            tls_context=server.client_tls_context(),
        )
    options.update(overrides)
    return EmailNotifier(**options)  # type: ignore[arg-type]


def parts(message: EmailMessage) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            assert isinstance(part, EmailMessage)
            found[part.get_content_type()] = part.get_content().replace("\r\n", "\n")
    return found


@pytest.mark.parametrize("mode", ["none", "starttls", "tls"])
async def test_an_alert_arrives_as_multipart_text_and_html(
    smtp: dict[str, SmtpStandIn], mode: str
) -> None:
    server = smtp[mode]
    refs = await mailer(server).send(notification())

    assert refs is None  # the thread is derived from the incident: nothing to keep
    [mail] = server.messages
    assert mail.tls is (mode != "none")
    assert mail.authenticated_as == (SMTP_USER if mode != "none" else None)
    assert mail.mail_from == "failwatch@alerts.example.com"
    assert mail.rcpt_tos == RECIPIENTS
    message = mail.message
    assert message["Subject"] == "[failwatch] \u23f3 rate_limit · flux-pro"
    assert message["From"] == SENDER
    assert message["To"] == "oncall@example.com, ml-team@example.org"
    # A long Message-ID is folded onto its own line: its value is what is inside.
    assert message["Message-ID"].strip() == FIRST_ID
    assert message["Date"] == "Wed, 15 Jan 2025 14:10:29 +0000"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["In-Reply-To"] is None
    assert message["References"] is None
    assert message.get_content_type() == "multipart/alternative"
    bodies = parts(message)
    assert set(bodies) == {"text/plain", "text/html"}
    assert bodies["text/plain"].startswith("37 failures · rate_limit · flux-pro\n")
    assert "<td" in bodies["text/html"]
    assert "Replicate quota exhausted" in bodies["text/html"]


async def test_later_flushes_reply_to_the_first_message_of_the_episode(
    smtp: dict[str, SmtpStandIn],
) -> None:
    server = smtp["none"]
    notifier = mailer(server)
    # No thread refs are passed on: each message finds its incident's root by itself.
    for flush in (notification(), later(2, Reason.NEW_FAILURES), later(3, Reason.RESOLVED)):
        assert await notifier.send(flush) is None
    ids = [mail.message["Message-ID"].strip() for mail in server.messages]
    assert ids == [
        FIRST_ID,
        "<failwatch.n-0002@alerts.example.com>",
        "<failwatch.n-0003@alerts.example.com>",
    ]
    assert server.messages[0].message["In-Reply-To"] is None
    for mail in server.messages[1:]:
        assert mail.message["In-Reply-To"].strip() == FIRST_ID
        assert mail.message["References"].strip() == FIRST_ID
    subjects = {mail.message["Subject"] for mail in server.messages}
    assert subjects == {"[failwatch] \u23f3 rate_limit · flux-pro"}


async def test_no_value_can_inject_a_header(smtp: dict[str, SmtpStandIn]) -> None:
    server = smtp["none"]
    n = notification(
        labels={
            "category": "rate_limit\r\nBcc: victim@evil.test",
            "model_id": "flux\nX-Injected: yes\r\n\r\n<b>body</b>",
        },
    )
    await mailer(server).send(n)
    [mail] = server.messages
    assert mail.rcpt_tos == RECIPIENTS
    headers = mail.data.split(b"\r\n\r\n", 1)[0].decode()
    assert "Bcc" not in mail.message
    assert "X-Injected" not in mail.message
    assert mail.message["Subject"] == (
        "[failwatch] \U0001f6a8 rate_limit Bcc: victim@evil.test · flux X-Injected: yes <b>body</b>"
    )
    assert mail.message["Thread-Topic"] == mail.message["Subject"]
    # The group key (from the same labels) only reaches the Message-ID as a digest.
    assert re.fullmatch(
        r"<failwatch\.incident\.[0-9a-f]{32}@alerts\.example\.com>",
        mail.message["Message-ID"].strip(),
    )
    assert "\nBcc:" not in headers
    assert "\nX-Injected:" not in headers


def test_the_message_matches_its_snapshot() -> None:
    notifier = EmailNotifier(
        host="smtp.example.com",
        sender=SENDER,
        recipients=RECIPIENTS,
        dashboard_url="https://supabase.com/dashboard/project/abcd",
    )
    first = notification()
    assert_snapshot("email_first.eml", notifier.message(first).as_string())
    second = later(3, Reason.NEW_ERROR)
    assert_snapshot("email_new_error.eml", notifier.message(second).as_string())
    # The same notification gives the same bytes (a retry is the same message).
    assert notifier.message(second).as_bytes() == notifier.message(second).as_bytes()


def test_message_ids_are_stable_and_well_formed() -> None:
    notifier = EmailNotifier(host="h", sender=SENDER, recipients=RECIPIENTS)
    uuid = "0b6f1c9e-1b7e-4c43-9b0a-3f5e0a8f1d11"
    update = later(2, Reason.NEW_FAILURES, id=uuid)
    assert notifier.message_id(update) == f"<failwatch.{uuid}@alerts.example.com>"
    # Ids that are not safe in a Message-ID are hashed (stably, and distinctly).
    odd = [later(2, Reason.NEW_FAILURES, id=i) for i in ("r/g:1 <x>", "r/g:2 <x>")]
    roots = [notification(group_key=key) for key in ("r/g:1 <x>", "r/g:2 <x>")]
    ids = [notifier.message_id(n) for n in (*odd, *roots)]
    assert ids == [notifier.message_id(n) for n in (*odd, *roots)]
    assert len(set(ids)) == 4
    for message_id in ids:
        assert re.fullmatch(
            r"<failwatch\.(incident\.)?[0-9a-f]{32}@alerts\.example\.com>", message_id
        )


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("alerts@example.com", "alerts@example.com"),
        ("  alerts@example.com ", "alerts@example.com"),
        ("Failwatch <alerts@example.com>", "Failwatch <alerts@example.com>"),
        ('"Ops, Team" <ops+ai@mail.example.co.uk>', '"Ops, Team" <ops+ai@mail.example.co.uk>'),
        ("first.last@localhost", "first.last@localhost"),
    ],
)
def test_valid_addresses_are_normalised(value: str, normalised: str) -> None:
    assert valid_address(value) == normalised


@pytest.mark.parametrize(
    "value",
    [
        "",
        "alerts",
        "alerts@",
        "@example.com",
        "a@b\r\nBcc: victim@evil.test",
        "a@example.com\n",
        "a@example.com\x00",
        "a@example.com, b@example.com",
        "a b@example.com",
        "<a@example.com",
        "a@-example.com",
        "a@example..com",
        ".a@example.com",
        "a..b@example.com",
        "Name <a@example.com> <b@example.com>",
        "pål@example.com",
    ],
)
def test_invalid_addresses_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="address"):
        valid_address(value)


def test_a_bad_address_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not an e-mail address"):
        EmailNotifier(host="h", sender="nobody", recipients=RECIPIENTS)
    with pytest.raises(ConfigError, match="recipient"):
        EmailNotifier(host="h", sender=SENDER, recipients=[])


@pytest.mark.parametrize(
    ("value", "clean"),
    [
        ("plain", "plain"),
        ("a\r\nb", "a b"),
        ("a\x00b\x1b[31mc", "a b [31mc"),
        ("tab\there", "tab here"),
        ("bidi\u202eevil", "bidi evil"),
        ("line\u2028sep", "line sep"),
    ],
)
def test_header_values_lose_every_control_character(value: str, clean: str) -> None:
    assert header_value(value) == clean


async def test_a_partly_refused_delivery_is_not_retried(
    smtp: dict[str, SmtpStandIn], caplog: pytest.LogCaptureFixture
) -> None:
    """The accepted recipients have the message: a retry would send it twice."""
    server = smtp["none"]
    server.fail_next(code=550, stage="RCPT")
    assert await mailer(server).send(notification()) is None
    [mail] = server.messages
    assert mail.rcpt_tos == (RECIPIENTS[1],)
    [record] = [r for r in caplog.records if r.name == "receiver.notifiers.email"]
    assert record.levelname == "WARNING"
    assert record.__dict__["refused"] == {RECIPIENTS[0]: "550"}
