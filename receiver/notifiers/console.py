"""The console notifier: what `make run` uses when no Slack or e-mail is configured.

One line per notification on standard output: a person's line (`render.terminal_line`)
with the `text` log format, or — with `json` — one JSON object holding that line and
the notification's facts, for a log pipeline.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import TextIO

from receiver.config.integrations import CONSOLE_DESTINATION
from receiver.model import Notification
from receiver.notifiers.render.terminal import terminal_line


class ConsoleNotifier:
    integration = "console"
    destination = CONSOLE_DESTINATION
    updates_in_place = False

    def __init__(self, stream: TextIO | None = None, *, json_lines: bool = False) -> None:
        self._stream = stream
        self._json_lines = json_lines

    async def send(self, notification: Notification) -> Mapping[str, str] | None:
        stream = self._stream or sys.stdout
        line = terminal_line(notification)
        if self._json_lines:
            line = json.dumps(_facts(notification, line), ensure_ascii=False)
        stream.write(line + "\n")
        stream.flush()
        return None

    async def close(self) -> None:
        return None


def _facts(notification: Notification, line: str) -> dict[str, object]:
    return {
        "notification": notification.title,
        "text": line,
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
