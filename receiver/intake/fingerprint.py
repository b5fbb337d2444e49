"""Fingerprint: one stable id for "the same error", whatever ids and numbers it carries.

The message is normalized — URLs, e-mail addresses, UUIDs, timestamps, hex ids, quoted
values and numbers become placeholders, white space is folded — and hashed with the
category and model, so "Request 8f3a9c2e timed out after 30012ms" and "Request 11bc0d4f
timed out after 29950ms" are one error.
"""

from __future__ import annotations

import hashlib
import re

# Order matters: wider shapes first, so a URL's digits are not eaten as numbers.
# The look-behinds let a match start only at the beginning of a run of its characters:
# without them a long run without "@" or "://" is rescanned from every position, which
# made a 2 KiB message cost tens of milliseconds.
_REPLACEMENTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE), "<url>"),
    (re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (
        re.compile(
            r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b", re.IGNORECASE
        ),
        "<uuid>",
    ),
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
            r"(?:Z|[+-]\d{2}:?\d{2})?)?\b",
            re.IGNORECASE,
        ),
        "<ts>",
    ),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<ts>"),
    # Hex ids: at least 6 hex digits mixing letters and digits, or 0x-prefixed.
    (re.compile(r"\b0x[0-9a-f]+\b", re.IGNORECASE), "<hex>"),
    (
        re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,}\b", re.IGNORECASE),
        "<hex>",
    ),
    (re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`[^`]*`"), "<str>"),
    (re.compile(r"\d+(?:\.\d+)?"), "<num>"),
    (re.compile(r"\s+"), " "),
)
# Enough of a message to tell errors apart; stops a 200 KiB message from costing much.
_MAX_MESSAGE = 2048


def normalize(message: str) -> str:
    """The message with everything that varies between occurrences replaced."""
    text = message[:_MAX_MESSAGE]
    for pattern, placeholder in _REPLACEMENTS:
        text = pattern.sub(placeholder, text)
    return text.strip()


def fingerprint(category: str, model_id: str | None, message: str) -> str:
    """A 16-hex-digit hash of category, model and normalized message."""
    key = "\x1f".join((category, model_id or "", normalize(message)))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
