"""Text that every store can hold: no NUL, no lone surrogate.

JSON may spell both (`\\u0000`, `\\ud800`) and Python's `json` reads them into `str`, but
PostgreSQL's `text` refuses a NUL and UTF-8 cannot encode a lone surrogate, so either one
reaching a query fails it. What an operator types (a silence, a comment) is refused with
a 4xx; what a webhook reports is kept, with each such character replaced by U+FFFD, so the
failure is not lost and a reader sees where something was.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# What a JSON document must contain to decode to such a character: the escapes \u0000
# and \ud800-\udfff (a raw NUL or surrogate is not valid JSON, nor valid UTF-8).
_ESCAPED = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def unstorable(text: str) -> str | None:
    """What in `text` cannot be stored, in words, or None when it can be."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    char = found.group()
    return "a NUL character" if char == "\x00" else f"a lone surrogate (U+{ord(char):04X})"


def storable(text: str) -> str:
    """`text` with every NUL and lone surrogate replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, text)


def may_hold_unstorable(document: bytes | str) -> bool:
    """Whether decoding this JSON text could yield a NUL or a lone surrogate (cheap: a
    search of the raw text; most documents never need the walk of `storable_json`)."""
    raw = document.encode("utf-8", "surrogatepass") if isinstance(document, str) else document
    return _ESCAPED.search(raw) is not None


def storable_json(value: Any) -> Any:
    """A decoded JSON value with `storable` applied to every string, keys included."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(k): storable_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable_json(item) for item in value]
    return value
