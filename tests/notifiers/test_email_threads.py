"""An incident's e-mails are one thread in Gmail, Outlook and Apple Mail: sent by the
real notifier through the SMTP stand-in (aiosmtpd), parsed by the stdlib, grouped as
each client groups them (tests/notifiers/mail_clients.py)."""

from __future__ import annotations

import pytest

from receiver.model import Notification, Reason
from tests.notifiers.mail_clients import apple_mail_threads, gmail_threads, outlook_threads
from tests.notifiers.samples import later, notification
from tests.notifiers.test_email import mailer
from tests.standins.smtp import SmtpStandIn

pytestmark = pytest.mark.anyio

CLIENTS = {"gmail": gmail_threads, "outlook": outlook_threads, "apple": apple_mail_threads}


def incident(model: str, episode: int = 1) -> list[Notification]:
    """Every kind of message one incident sends: first, updates, a new error, a
    repeat and the resolution — counts and state change with each."""
    group = f"0f3c{model}"
    labels = {"category": "rate_limit", "model_id": model}

    def flush(sequence: int, reason: Reason) -> Notification:
        ident = f"{group}-{episode}-{sequence}"
        if reason is Reason.FIRST:
            return notification(id=ident, group_key=group, episode=episode, labels=labels)
        return later(sequence, reason, id=ident, group_key=group, episode=episode, labels=labels)

    return [
        flush(1, Reason.FIRST),
        flush(2, Reason.NEW_FAILURES),
        flush(3, Reason.NEW_ERROR),
        flush(4, Reason.REPEAT),
        flush(5, Reason.RESOLVED),
    ]


@pytest.mark.parametrize("client", sorted(CLIENTS))
async def test_each_incident_is_one_thread_and_two_incidents_are_two(
    smtp: dict[str, SmtpStandIn], client: str
) -> None:
    server = smtp["none"]
    notifier = mailer(server)
    flux, sdxl = incident("flux-pro"), incident("sdxl")
    # Interleaved, as two incidents running at once send them.
    for pair in zip(flux, sdxl, strict=True):
        for n in pair:
            await notifier.send(n)
    received = [mail.message for mail in server.messages]
    assert len(received) == 10

    threads = CLIENTS[client](received)

    assert threads == [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]


@pytest.mark.parametrize("client", sorted(CLIENTS))
async def test_the_next_episode_of_a_group_is_a_new_thread(
    smtp: dict[str, SmtpStandIn], client: str
) -> None:
    """Same group, same subject: only the references (and Outlook's index) tell the
    second incident from the first — as they should, it is a new incident."""
    server = smtp["none"]
    notifier = mailer(server)
    for n in [*incident("flux-pro", episode=1), *incident("flux-pro", episode=2)[:2]]:
        await notifier.send(n)
    received = [mail.message for mail in server.messages]
    assert len({str(m["Subject"]) for m in received}) == 1

    threads = CLIENTS[client](received)

    assert threads == [[0, 1, 2, 3, 4], [5, 6]]


async def test_a_lost_first_message_still_leaves_one_thread(
    smtp: dict[str, SmtpStandIn],
) -> None:
    """The root is derived from the incident, not remembered from the first send: the
    updates of an incident whose first e-mail never went out still thread together."""
    server = smtp["none"]
    notifier = mailer(server)
    for n in incident("flux-pro")[1:]:
        await notifier.send(n)
    received = [mail.message for mail in server.messages]
    for group in CLIENTS.values():
        assert group(received) == [[0, 1, 2, 3]]
