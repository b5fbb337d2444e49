"""The console notifier: what `make run` uses when no Slack or e-mail is configured."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import TextIO

from receiver.config.integrations import CONSOLE_DESTINATION
from receiver.model import Notification


class ConsoleNotifier:
    integration = "console"
    destination = CONSOLE_DESTINATION
    updates_in_place = False

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def send(self, notification: Notification) -> Mapping[str, str] | None:
        stream = self._stream or sys.stdout
        line = {
            "notification": notification.title,
            "id": notification.id,
            "reason": notification.reason.value,
            "receiver": notification.receiver,
            "labels": notification.labels,
            "window_failures": notification.window_failures,
            "episode_failures": notification.episode_failures,
            "users_affected": notification.users_affected,
            "top_errors": [
                {"count": e.count, "message": e.message[:200], "new": e.new}
                for e in notification.top_errors
            ],
        }
        stream.write(json.dumps(line, ensure_ascii=False) + "\n")
        stream.flush()
        return None

    async def close(self) -> None:
        return None
