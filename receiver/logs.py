"""Structured logs: one JSON object per line on stderr."""

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


def configure(level: str = "info") -> None:
    handler = LineHandler(sys.stderr.fileno())
    handler.setFormatter(JSONFormatter())
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
