"""Where a receiver's notifications go, without the secrets needed to get them there."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from receiver.notifiers.config import ReceiverConfig


@dataclass(frozen=True, slots=True)
class IntegrationSpec:
    receiver: str
    key: str  # unique within the receiver: "slack/0", "email/0", "console"
    integration: str  # "slack", "email", "console": the metrics label
    destination: str  # rate limits and 429 pauses apply per destination


def integration_specs(receiver: ReceiverConfig, *, smtp_host: str | None) -> list[IntegrationSpec]:
    specs = []
    for i, slack in enumerate(receiver.slack):
        if slack.webhook_url is not None:
            url = slack.webhook_url.get_secret_value().encode()
            # The URL is the credential: name the destination by a digest of it.
            destination = "slack-webhook:" + hashlib.sha256(url).hexdigest()[:12]
        else:
            destination = f"slack:{slack.channel}"
        specs.append(IntegrationSpec(receiver.name, f"slack/{i}", "slack", destination))
    for i, _ in enumerate(receiver.email):
        specs.append(
            IntegrationSpec(receiver.name, f"email/{i}", "email", f"email:{smtp_host or ''}")
        )
    if receiver.console:
        specs.append(IntegrationSpec(receiver.name, "console", "console", "console"))
    return specs
