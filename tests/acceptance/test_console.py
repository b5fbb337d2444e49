"""The console notifier of a real `failwatch serve` with no Slack or e-mail set (as
`make run` starts it): one line a person reads per notification with `--log-format
text`, one JSON object holding that line with the default `json`."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from tests.payloads import SECRET, WEBHOOK, auth, failed_insert, generation
from tests.serving import Server, running_serve

pytestmark = pytest.mark.acceptance

ENV = {"FAILWATCH_WEBHOOK_SECRET": SECRET, "FAILWATCH_GROUP_WAIT": "1s"}
# The escape character is dropped (a space, folded): `[2J` is left as text.
LINE = re.compile(
    r"\d\d:\d\d UTC first timeout · flux-pro · 2 failures \(2 in episode\) · 1 user · "
    "top error 2\u00d7 Request timed out \\[2J after 30012ms · receiver default"
)


def fail_twice(server: Server) -> None:
    # An escape sequence in the error: shown as text, never sent to the terminal.
    error = "Request timed out \x1b[2J after 30012ms"
    with httpx.Client(base_url=server.url, timeout=10.0, trust_env=False) as client:
        for i in range(2):
            row = generation(id=f"gen-{i}")
            row["parameters"] = {"error": error, "errorContext": {"type": "ModelTimeoutError"}}
            body = failed_insert(**row)
            assert client.post(WEBHOOK, content=body, headers=auth()).status_code == 202


def wait_for(server: Server, text: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in server.log():
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)


def test_text_is_one_readable_line_per_notification(tmp_path: Path) -> None:
    with running_serve(tmp_path, "--log-format", "text", **ENV) as server:
        fail_twice(server)
        wait_for(server, "notification sent")
        assert server.stop() == 0
    lines = server.log().splitlines()
    assert "\x1b" not in server.log()
    assert len([line for line in lines if LINE.fullmatch(line)]) == 1, lines
    # The logs are lines a person reads too.
    [sent] = [line for line in lines if "notification sent" in line]
    assert re.match(r"\d\d:\d\d:\d\d INFO failwatch\.delivery: notification sent ", sent), sent
    assert "receiver=default" in sent


def test_json_carries_the_same_line(tmp_path: Path) -> None:
    with running_serve(tmp_path, **ENV) as server:
        fail_twice(server)
        wait_for(server, '"notification sent"')
        assert server.stop() == 0
    entries = server.log_lines()  # every line is JSON, the notification's too
    [notification] = [e for e in entries if "text" in e and e["reason"] == "first"]
    assert LINE.fullmatch(notification["text"]), notification
    assert notification["episode_failures"] == 2
    assert notification["labels"]["model_id"] == "flux-pro"
