"""Characters that must never reach a reader as they are: control characters and
invisible formatting. Shared by the renderers and by the validators of settings."""

from __future__ import annotations

import unicodedata


def is_control(char: str) -> bool:
    # Cc: C0/C1 controls (CR, LF, ESC …); Cf: bidi overrides and other invisible
    # formatting that could make a message read differently from what it says.
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def has_control(text: str) -> bool:
    """Whether `text` holds a control or invisible formatting character (CR, LF, …)."""
    return any(is_control(char) for char in text)
