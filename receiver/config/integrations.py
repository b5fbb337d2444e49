"""Where a receiver's notifications go, without the secrets needed to get them there."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from receiver.config.receivers import ReceiverConfig


@dataclass(frozen=True, slots=True)
class IntegrationSpec:
    receiver: str
    key: str  # unique within the receiver: "slack/0", "email/0", "console"
    integration: str  # "slack", "email", "console": the metrics label
    destination: str  # rate limits and 429 pauses apply per destination
    # It can edit what it sent (Slack in bot mode): it gets `action` notifications too.
    updates_in_place: bool = False


def slack_webhook_destination(webhook_url: str) -> str:
    # The URL is the credential: name the destination by a digest of it.
    return "slack-webhook:" + hashlib.sha256(webhook_url.encode()).hexdigest()[:12]


def slack_channel_destination(channel: str) -> str:
    return f"slack:{channel}"


def email_destination(host: str, port: int) -> str:
    return f"email:{host}:{port}"


CONSOLE_DESTINATION = "console"


def integration_specs(
    receiver: ReceiverConfig, *, smtp_host: str | None, smtp_port: int
) -> list[IntegrationSpec]:
    """A receiver's integrations in a fixed order (slack, email, console); the notifier
    registry builds its notifiers in the same order, with the same destinations."""
    specs = []
    for i, slack in enumerate(receiver.slack):
        if slack.webhook_url is not None:
            destination = slack_webhook_destination(slack.webhook_url.get_secret_value())
        else:
            assert slack.channel is not None  # validated at load
            destination = slack_channel_destination(slack.channel)
        bot = slack.webhook_url is None
        specs.append(IntegrationSpec(receiver.name, f"slack/{i}", "slack", destination, bot))
    for i, _ in enumerate(receiver.email):
        destination = email_destination(smtp_host or "", smtp_port)
        specs.append(IntegrationSpec(receiver.name, f"email/{i}", "email", destination))
    if receiver.console:
        specs.append(IntegrationSpec(receiver.name, "console", "console", CONSOLE_DESTINATION))
    return specs
