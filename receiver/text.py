"""Characters that must never reach a reader as they are — control characters and
invisible formatting — and those no store can hold: a NUL or a lone surrogate.

JSON may spell the latter two (`\\u0000`, `\\ud800`) and Python's `json` reads them into
`str`, but PostgreSQL's `text` refuses a NUL and UTF-8 cannot encode a lone surrogate, so
either one reaching a query fails it. What an operator types (a silence, a comment, a
token's subject) is refused with a 4xx; what a webhook reports is kept, with each such
character replaced by U+FFFD, so the failure is not lost and a reader sees where something
was. Shared by the renderers, the validators of settings and API bodies, and intake.
"""

from __future__ import annotations

import re
import unicodedata

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def is_control(char: str) -> bool:
    # Cc: C0/C1 controls (CR, LF, ESC …); Cf: bidi overrides and other invisible
    # formatting that could make a message read differently from what it says.
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def has_control(text: str) -> bool:
    """Whether `text` holds a control or invisible formatting character (CR, LF, …)."""
    return any(is_control(char) for char in text)


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
