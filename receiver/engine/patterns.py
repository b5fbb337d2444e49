"""User-supplied regular expressions: compiled once, matched in linear time.

Every pattern that comes from an operator or an API caller — route and silence matchers,
classifier `message_regex` — runs in RE2, the engine Alertmanager uses (Go's regexp has
its semantics). RE2 never backtracks, so matching costs time proportional to the text
whatever the pattern: `(a+)+$` against a long run of `a` cannot freeze the process the
way Python's `re` does. The price is the constructs that need backtracking: a pattern
using one is refused here, with a message naming it, so the API answers 422 and a
configuration fails to load with the key named.

Differences from Python's `re` worth knowing: `\\d`, `\\w`, `\\s` and `\\b` are ASCII
only; the end of text is `\\z` (Python's `\\Z`); POSIX classes such as `[[:digit:]]` work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import re2  # type: ignore[import-untyped]

# Each compiled pattern may use at most this much memory (RE2 bounds its program and its
# DFA cache by it, falling back to a slower but still linear-time NFA when the cache is
# full); a pattern too big to compile within it is refused. 2 MiB keeps thousands of
# silences affordable while any pattern a person writes fits easily.
_MAX_MEMORY = 2 << 20

# RE2 names the fragment it stopped at ("invalid perl operator: (?="); these are the
# constructs a Python or PCRE user reaches for, in the words of the message we give back.
_UNSUPPORTED = (
    ("(?P=", "a named backreference (?P=name)"),
    ("(?=", "a lookahead (?=...)"),
    ("(?!", "a negative lookahead (?!...)"),
    ("(?<=", "a lookbehind (?<=...)"),
    ("(?<!", "a negative lookbehind (?<!...)"),
    ("(?>", "an atomic group (?>...)"),
    ("(?(", "a conditional group (?(...)"),
    ("(?#", "a comment group (?#...)"),
    ("\\g", "a backreference \\g<...>"),
    ("\\k", "a backreference \\k<...>"),
    ("\\Z", "\\Z (write \\z for the end of the text)"),
    ("*+", "a possessive quantifier *+"),
    ("++", "a possessive quantifier ++"),
    ("?+", "a possessive quantifier ?+"),
)


class PatternError(ValueError):
    """A pattern RE2 cannot run; the message names what is wrong with it."""


class _Regexp(Protocol):
    def fullmatch(self, text: bytes, /) -> object | None: ...
    def search(self, text: bytes, /) -> object | None: ...


@dataclass(frozen=True, slots=True)
class UserPattern:
    """A compiled user pattern; equal to another with the same text and case rule."""

    text: str
    ignore_case: bool
    regexp: _Regexp = field(compare=False, repr=False)

    def fullmatch(self, value: str) -> bool:
        """Whether the whole of `value` matches (Alertmanager's `^(?:pattern)$`)."""
        return self.regexp.fullmatch(_utf8(value)) is not None

    def search(self, value: str) -> bool:
        """Whether the pattern matches anywhere in `value`."""
        return self.regexp.search(_utf8(value)) is not None

    def __str__(self) -> str:
        return self.text


def compile_user_pattern(text: str, *, ignore_case: bool = False) -> UserPattern:
    """Compile `text` for RE2, or raise PatternError naming the unsupported construct."""
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PatternError(
            f"the pattern contains a lone surrogate (U+{ord(text[exc.start]):04X}), "
            "which is not text"
        ) from None
    options = re2.Options()
    options.log_errors = False  # the error is ours to report, not RE2's to print on stderr
    options.max_mem = _MAX_MEMORY
    options.case_sensitive = not ignore_case
    try:
        regexp: _Regexp = re2.compile(encoded, options)
    except re2.error as exc:
        raise PatternError(_explain(text, _reason(exc))) from None
    return UserPattern(text, ignore_case, regexp)


def _reason(exc: Exception) -> str:
    reason = exc.args[0] if exc.args else "not a regular expression"
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


def _explain(text: str, reason: str) -> str:
    fragment = reason.rpartition(": ")[2]
    if reason.startswith("invalid escape sequence") and fragment[1:2].isdigit():
        return f"{fragment} is a backreference, which RE2 does not support"
    if fragment == "(?P" and "(?P=" in text:
        fragment = "(?P="
    for start, construct in _UNSUPPORTED:
        if fragment.startswith(start):
            return (
                f"{construct} is not supported: patterns run in RE2, which matches in "
                "linear time and has no backreferences or lookaround"
            )
    if reason.startswith("pattern too large"):
        return "the pattern is too large to compile"
    return f"not a valid RE2 regular expression: {reason}"


def _utf8(value: str) -> bytes:
    # Lone surrogates can arrive in JSON ("\ud800"); RE2 sees them as one invalid
    # character each rather than the match raising.
    return value.encode("utf-8", "surrogatepass")
