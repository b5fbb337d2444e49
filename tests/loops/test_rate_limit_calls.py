"""Every Slack API call of a delivery takes a rate-limit token: the worker, a real store
and the real slack-sdk against the Slack stand-in, which limits calls like Slack does.

A later flush in bot mode is two calls (chat.update and the thread reply). Were it to
take one token, the stand-in — limiting at the same rate — would answer 429s.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from receiver.config.integrations import slack_channel_destination
from receiver.engine.notification import stream_of
from receiver.loops.delivery import DeliveryWorker
from receiver.metrics import Metrics
from receiver.model import Notification, Reason
from receiver.notifiers.slack import SlackNotifier
from receiver.store import outbox
from receiver.store.tx import Tx
from tests.loops.harness import engine
from tests.notifiers.samples import later, notification
from tests.standins.slack import SlackStandIn

pytestmark = pytest.mark.anyio

RATE = 5.0  # calls a second, for failwatch and the stand-in alike
BURST = 2
# The stand-in holds one token more than failwatch: the slack for network jitter (a
# token taken before a slow call, the next one before a fast call). Taking one token
# for a two-call update overdraws by one per update, far beyond it.
STANDIN_BURST = BURST + 1
INCIDENTS = 3
KEY = "slack/0"


def flushes(incident: int) -> list[Notification]:
    """An incident's first message, two updates and its resolution."""
    group = f"category=rate_limit,model_id=flux-{incident}"
    labels = {"category": "rate_limit", "model_id": f"flux-{incident}"}
    first = notification(id=f"{group}-1-1", group_key=group, labels=labels)
    updates = [
        later(sequence, reason, id=f"{group}-1-{sequence}", group_key=group, labels=labels)
        for sequence, reason in (
            (2, Reason.NEW_FAILURES),
            (3, Reason.NEW_ERROR),
            (4, Reason.RESOLVED),
        )
    ]
    return [first, *updates]


async def test_no_slack_call_is_made_without_a_token(tmp_path: Path, state_url: str | None) -> None:
    with SlackStandIn(rate_limit=RATE, burst=STANDIN_BURST) as slack:
        notifier = SlackNotifier(
            bot_token=SecretStr(slack.token), channel="#alerts", api_url=slack.api_url
        )
        destination = slack_channel_destination("#alerts")
        delivery = {"rate_per_second": RATE, "burst": BURST}
        async with engine(tmp_path, state_url=state_url, delivery=delivery) as e:
            worker = DeliveryWorker(
                store=e.store,
                notifiers={("oncall", KEY): notifier},
                settings=e.settings.delivery,
                metrics=Metrics(),
                clock=time.time,
            )
            owed = [n for i in range(INCIDENTS) for n in flushes(i)]

            def enqueue_all(tx: Tx) -> None:
                for n in owed:
                    target = (stream_of(n, KEY), "oncall", KEY, destination)
                    outbox.enqueue(tx, n, [target], time.time())

            await e.store.write(enqueue_all)
            deadline = time.monotonic() + 60
            while await e.store.read(outbox.pending_count):
                assert time.monotonic() < deadline, "delivery did not finish"
                await worker.deliver_due()
                await asyncio.sleep(0.02)

        calls = [c for c in slack.calls if c.method.startswith("chat.")]
        # A post per incident, then an update and a thread reply per later flush.
        assert len(calls) == INCIDENTS * (1 + 3 * 2)
        assert slack.rate_limited == 0, [(c.method, c.status) for c in calls]
        for message in slack.messages.values():
            assert (len(message.history), len(message.replies)) == (3, 3)
        # At the stand-in's rate, the calls took at least as long as the rate allows.
        span = calls[-1].at - calls[0].at
        assert span >= (len(calls) - STANDIN_BURST) / RATE - 0.2
