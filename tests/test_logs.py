"""Log lines: a JSON object, or with `text` a line a person reads — one line either way."""

from __future__ import annotations

import json
import logging

import pytest

from receiver.logs import JSONFormatter, TextFormatter


def record(**extra: object) -> logging.LogRecord:
    made = logging.makeLogRecord(
        {
            "name": "failwatch.delivery",
            "levelname": "WARNING",
            "msg": "notification will be retried",
        }
    )
    made.created = 1_736_949_787.25  # 2025-01-15 14:03:07 UTC
    made.__dict__.update(extra)
    return made


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        # time, level, logger, message, then the fields as key=value
        (
            {"receiver": "oncall", "attempt": 2},
            "14:03:07 WARNING failwatch.delivery: notification will be retried"
            " receiver=oncall attempt=2",
        ),
        # a value with spaces, quotes or an equals sign is quoted as JSON
        (
            {"error": 'serverError: HTTP 503 "busy"'},
            "14:03:07 WARNING failwatch.delivery: notification will be retried"
            ' error="serverError: HTTP 503 \\"busy\\""',
        ),
        # a newline or an escape in a value cannot break the line or reach the terminal
        (
            {"model": "flux\n\x1b[2Jpro"},
            "14:03:07 WARNING failwatch.delivery: notification will be retried"
            ' model="flux\\n\\u001b[2Jpro"',
        ),
        # structured values as JSON
        (
            {"refused": {"a@example.com": "550"}},
            "14:03:07 WARNING failwatch.delivery: notification will be retried"
            ' refused={"a@example.com": "550"}',
        ),
    ],
)
def test_text_lines(extra: dict[str, object], line: str) -> None:
    assert TextFormatter().format(record(**extra)) == line


def test_json_lines_hold_the_same_fields() -> None:
    entry = json.loads(JSONFormatter().format(record(receiver="oncall", attempt=2)))
    assert (entry["msg"], entry["receiver"], entry["attempt"]) == (
        "notification will be retried",
        "oncall",
        2,
    )
