"""Logs on stderr, one line a record: a JSON object (`json`, the default: for a log
pipeline) or a line a person reads (`text`: `make run`, a terminal)."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


# Built once: `json.dumps` with options builds a new encoder at every call.
_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode

# (epoch second, its ISO text): most lines of a busy second share it, so strftime runs
# once a second instead of once a line.
_second: tuple[int, str] = (-1, "")


def _whole_second(created: float) -> str:
    global _second
    second, text = _second
    if second != int(created):
        second = int(created)
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second = (second, text)
    return text


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": f"{_whole_second(record.created)}.{int(record.msecs):03d}Z",
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
            self.write(self.format(record))
        except Exception:
            self.handleError(record)

    def write(self, line: str) -> None:
        data = memoryview((line + "\n").encode("utf-8", "replace"))
        while data:
            data = data[os.write(self._fd, data) :]


def log_fields(logger: logging.Logger, level: int, msg: str, fields: Mapping[str, Any]) -> None:
    """The line `logger.log(level, msg, extra=fields)` writes, written for less.

    For a line per request (the webhook's): when the line would reach nothing but the
    `LineHandler` that `configure` installs, it is formatted from `fields` and written
    here, without a `LogRecord`, the walk of the handlers and the formatter's pass over
    the record's two dozen attributes (half the instructions of `logger.log`'s way).
    Anything else listening — a test capturing logs, a handler or filter added — gets the
    record through `logging`, as before. `fields` must not use the names of `LogRecord`
    attributes, as with `extra`.
    """
    if not logger.isEnabledFor(level):
        return
    handler = _sole_line_handler(logger, level)
    if handler is None:
        logger.log(level, msg, extra=fields)
        return
    now = time.time()
    entry: dict[str, Any] = {
        "ts": f"{_whole_second(now)}.{int((now - int(now)) * 1000):03d}Z",
        "level": _LEVEL_NAMES.get(level) or logging.getLevelName(level).lower(),
        "logger": logger.name,
        "msg": msg,
    }
    entry.update(fields)
    line = _encode(entry)
    handler.acquire()  # as `Handler.handle` does around `emit`
    try:
        handler.write(line)
    except Exception:
        handler.handleError(logging.makeLogRecord({"msg": msg, "levelno": level}))
    finally:
        handler.release()


_LEVEL_NAMES = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}


def _sole_line_handler(logger: logging.Logger, level: int) -> LineHandler | None:
    """The root's `LineHandler` if a line of `logger` at `level` would reach it and
    nothing else: no handler or filter on the way, and the handler's own formatter."""
    current: logging.Logger | None = logger
    while current is not None and current is not logging.root:
        if current.handlers or current.filters or not current.propagate:
            return None
        current = current.parent
    root = logging.root
    if root.filters or len(root.handlers) != 1:
        return None
    handler = root.handlers[0]
    if (
        type(handler) is not LineHandler
        or handler.filters
        or level < handler.level
        or type(handler.formatter) is not JSONFormatter
    ):
        return None
    return handler


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
