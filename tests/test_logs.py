"""Log lines — a JSON object, or with `text` a line a person reads, one line either way —
and `log_fields` writing the line `logging` would write, for less."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from receiver import logs

FIELDS = {"outcome": "accepted", "status": 202, "duration_ms": 1.5, "model_id": "flux-pro ✓"}
ReadLines = Callable[[], list[dict[str, object]]]


@contextlib.contextmanager
def only_line_handler(path: Path) -> Iterator[ReadLines]:
    """The root logger with `configure`'s handler and formatter alone (pytest's capturing
    handlers taken off for the while), writing to a file; yields a function that reads
    the lines written so far."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    handler = logs.LineHandler(fd)
    handler.setFormatter(logs.JSONFormatter())
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        os.close(fd)


@pytest.fixture
def read_lines(tmp_path: Path) -> Iterator[ReadLines]:
    with only_line_handler(tmp_path / "log.jsonl") as read:
        yield read


def test_log_fields_writes_what_logging_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = logging.getLogger("failwatch.test-logs")
    with only_line_handler(tmp_path / "log.jsonl") as read_lines:
        with monkeypatch.context() as patched:
            # The point of `log_fields`: no LogRecord on its way to the line handler.
            patched.setattr(logging.Logger, "makeRecord", _no_record)
            logs.log_fields(log, logging.INFO, "webhook", FIELDS)
            logs.log_fields(log, logging.WARNING, "webhook", {"status": 401})
        log.info("webhook", extra=FIELDS)
        log.warning("webhook", extra={"status": 401})
        fast_info, fast_warning, slow_info, slow_warning = read_lines()
    for fast, slow in ((fast_info, slow_info), (fast_warning, slow_warning)):
        # The same keys in the same order, the same values but for the time.
        assert list(fast) == list(slow)
        assert {**fast, "ts": ""} == {**slow, "ts": ""}
        # 2026-11-30T18:03:24.512Z
        assert isinstance(fast["ts"], str)
        assert len(fast["ts"]) == 24
        assert fast["ts"][:17] == str(slow["ts"])[:17]
        assert fast["ts"].endswith("Z")
    assert fast_info["level"] == "info"
    assert fast_warning["level"] == "warning"
    assert fast_info["model_id"] == "flux-pro ✓"


def test_log_fields_below_the_level_writes_nothing(tmp_path: Path) -> None:
    with only_line_handler(tmp_path / "log.jsonl") as read_lines:
        log = logging.getLogger("failwatch.test-logs")
        logs.log_fields(log, logging.DEBUG, "webhook", FIELDS)
        assert read_lines() == []


def _no_record(*args: object, **kwargs: object) -> logging.LogRecord:
    raise AssertionError("log_fields made a LogRecord where it need not")


def test_log_fields_goes_through_logging_when_someone_else_listens(
    read_lines: ReadLines, caplog: pytest.LogCaptureFixture
) -> None:
    # pytest's caplog handler is on the root beside the line handler: it must see the
    # record, with its fields, and the line handler must still write the line.
    assert len(logging.getLogger().handlers) > 1
    with caplog.at_level(logging.INFO):
        logs.log_fields(logging.getLogger("failwatch.test-logs"), logging.INFO, "webhook", FIELDS)
    [record] = [r for r in caplog.records if r.name == "failwatch.test-logs"]
    assert record.getMessage() == "webhook"
    assert record.__dict__["outcome"] == "accepted"
    [line] = read_lines()
    assert line["outcome"] == "accepted"
    assert line["msg"] == "webhook"


def test_log_fields_writes_a_text_line_with_the_text_format(tmp_path: Path) -> None:
    # `--log-format text`: the fast path writes JSON only, so a text handler gets the
    # record through `logging` and its own formatter.
    with only_line_handler(tmp_path / "log.txt"):
        handler = logging.getLogger().handlers[0]
        handler.setFormatter(logs.TextFormatter())
        logs.log_fields(logging.getLogger("failwatch.test-logs"), logging.INFO, "webhook", FIELDS)
        [line] = (tmp_path / "log.txt").read_text("utf-8").splitlines()
    assert " INFO failwatch.test-logs: webhook outcome=accepted status=202" in line


def test_log_fields_respects_a_filter_on_the_way(tmp_path: Path) -> None:
    log = logging.getLogger("failwatch.test-logs.filtered")
    dropper = logging.Filter("elsewhere")  # passes only records of "elsewhere"
    with only_line_handler(tmp_path / "log.jsonl") as read_lines:
        log.addFilter(dropper)
        try:
            logs.log_fields(log, logging.INFO, "webhook", FIELDS)
        finally:
            log.removeFilter(dropper)
        assert read_lines() == []


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
    assert logs.TextFormatter().format(record(**extra)) == line


def test_json_lines_hold_the_same_fields() -> None:
    entry = json.loads(logs.JSONFormatter().format(record(receiver="oncall", attempt=2)))
    assert (entry["msg"], entry["receiver"], entry["attempt"]) == (
        "notification will be retried",
        "oncall",
        2,
    )
