"""Logs on stderr, one line a record: a JSON object (`json`, the default: for a log
pipeline) or a line a person reads (`text`: `make run`, a terminal)."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


# Built once: `json.dumps` with options builds a new encoder at every call.
_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode


class JSONFormatter(logging.Formatter):
    # (epoch second, its ISO text): every webhook logs a line, and most lines of a busy
    # second share it, so strftime runs once a second instead of once a line.
    _second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": f"{self._whole_second(record.created)}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
            # Our own exceptions never carry secrets in their text (see errors.py), so
            # the traceback is safe to log, and without it a crash cannot be debugged.
            entry["traceback"] = self.formatException(record.exc_info)
        return _encode(entry)

    def _whole_second(self, created: float) -> str:
        second, text = self._second
        if second != int(created):
            second = int(created)
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, text)
        return text


class TextFormatter(logging.Formatter):
    """`18:20:01 WARNING failwatch.delivery: notification will be retried reason=network`:
    the time (UTC), level, logger and message, then the record's fields as key=value
    (a value with spaces or quotes as JSON), on one line."""

    def format(self, record: logging.LogRecord) -> str:
        when = time.strftime("%H:%M:%S", time.gmtime(record.created))
        fields = [
            f"{key}={_text_value(value)}"
            for key, value in record.__dict__.items()
            if key not in _RESERVED and not key.startswith("_")
        ]
        line = " ".join(
            [f"{when} {record.levelname} {record.name}: {record.getMessage()}", *fields]
        )
        if record.exc_info and record.exc_info[0] is not None:
            line += f" error={_text_value(f'{record.exc_info[0].__name__}: {record.exc_info[1]}')}"
            return line + "\n" + self.formatException(record.exc_info)
        return line


def _text_value(value: Any) -> str:
    """A field's value as text: JSON unless it is a plain word, and nothing a terminal
    would act on (a control character is written as its escape)."""
    text = _encode(value)
    if isinstance(value, str) and value and not any(c.isspace() or c in "\"'=" for c in value):
        text = value
    return _printable(text)


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


class LineHandler(logging.Handler):
    """One `write(2)` per record on an unbuffered file descriptor: no flush per line
    (a stream flush cost as much as formatting the line), and a crash loses nothing that
    was already logged."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = memoryview((self.format(record) + "\n").encode("utf-8", "replace"))
            while data:
                data = data[os.write(self._fd, data) :]
        except Exception:
            self.handleError(record)


def configure(level: str = "info", log_format: str = "json") -> None:
    handler = LineHandler(sys.stderr.fileno())
    handler.setFormatter(TextFormatter() if log_format == "text" else JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The formatter shows none of these, so do not pay for them on every record.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # Nor the caller's file and line, which `logging` finds by walking the stack on every
    # record (the logging HOWTO's "Optimization" section names this switch).
    logging._srcfile = None
    # uvicorn's own access log would be a second, unstructured line per request.
    logging.getLogger("uvicorn.access").disabled = True
