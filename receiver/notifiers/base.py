"""The contract every integration keeps.

`send` delivers one notification or raises `DeliveryError(retryable=…, reason=…)`;
it never retries by itself (the delivery worker owns retries and back-off) and never
puts a secret into an error message. It returns the references to remember for later
flushes of the same episode (e.g. `{"channel": …, "ts": …}`), or None.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from receiver.model import Notification


class Notifier(Protocol):
    # Kind of integration ("slack", "email", "console"): the metrics label.
    integration: str
    # Where it delivers, without secrets (a channel, a host): a per-destination key
    # for rate limits and a human-readable name for logs.
    destination: str
    # It edits what it sent and replies in its thread (Slack in bot mode): a later
    # flush is then two API calls, and takes two rate-limit tokens.
    updates_in_place: bool

    async def send(self, notification: Notification) -> Mapping[str, str] | None: ...

    async def close(self) -> None: ...
