"""Classify: which problem a failure is, in the words the person on call acts on.

`quota` (pay), `rate_limit` (slow down; it passes), `timeout`, `content_policy` (the
prompt or the output was refused), `invalid_input` (fix the request), `auth` (fix the key
or the access), `model_error` (the model or its worker failed), `provider_unavailable`
(the provider is down or busy: wait), else `unknown`. The default rules are in
`classify_rules.py`; a configuration replaces or extends them (`config/classifier.py`).

A rule matches on any of its conditions, and the signals are weighed strongest first;
within one signal the first rule in order wins:

1. the structured code (`errorContext.code`), when a rule lists it;
2. the message: a listed code standing alone as a word ("insufficient_quota"), a phrase
   starting where a word starts, or the rule's regular expression;
3. the HTTP status: `errorContext.status` (`statusCode`, `httpStatus`), else a status
   standing alone in the message ("429", "Error code: 429", "HTTP 429") — never digits
   inside a longer number, an id, a port or a path;
4. the error type, the SDK's class name: a hint, for when nothing else spoke.

The message ranks above the status because providers reuse statuses: running out of
credit arrives as 400 (Anthropic), 401 (ElevenLabs), 403 (fal) or 429 (OpenAI), and a
refused prompt as 400 (OpenAI), 403 (Stability) or 422 (fal). The message is
`parameters.error` and `errorContext.message` without stack frames — a frame named
`withRateLimit` says nothing about the failure — and at most `MAX_TEXT` characters of
each (the head and the tail, where a Python traceback puts the error).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from receiver.model import ErrorDetails

UNKNOWN = "unknown"
STUCK = "stuck"
# Enough of a message to name its problem; bounds the work for a 256 KiB body.
MAX_TEXT = 4096
# Distinct message texts whose finding is kept, per classifier: an outage repeats a
# handful of messages thousands of times, and reading one is most of a classification.
# At most ~8 MB (two messages of MAX_TEXT characters, up to 4 bytes each).
FOUND_CACHE = 256
_TAIL = 1024


class SearchPattern(Protocol):
    """A compiled regular expression; user patterns run in RE2 (`receiver/patterns.py`)."""

    @property
    def text(self) -> str: ...

    def search(self, value: str, /) -> bool: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A category and the conditions that name it; any one condition is enough.

    Codes and phrases compare without case. A code ending in "." is a prefix
    ("SAFETY." covers "SAFETY.INPUT.TEXT"). A phrase must start where a word of the
    message starts; a one-word phrase may be the start of a longer word ("throttl").
    Error types compare exactly, like the guide's `errorContext->>'type' = '…'`.
    """

    category: str
    name: str | None = None
    codes: tuple[str, ...] = ()
    statuses: tuple[int, ...] = ()
    error_types: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    pattern: SearchPattern | None = None

    @property
    def label(self) -> str:
        return self.name or self.category


@dataclass(frozen=True, slots=True)
class Verdict:
    """A category, and why: which rule matched, on which signal, seeing what."""

    category: str
    rule: str | None = None
    signal: str | None = None  # "code", "message", "status" or "type"
    evidence: str | None = None

    def explain(self) -> str:
        if self.rule is None:
            return "no rule matched"
        return f"rule {self.rule!r} on the {self.signal} {self.evidence!r}"


_WORD = re.compile(r"\w+")
# A status standing alone. The first digit comes before the look-behind so the search
# skips to digits at C speed; the look-arounds refuse digits that belong to a longer
# number (4290, 1.429), an id (req_8f429ab), an address or port (10.0.0.7:429), a path
# (/status/429), an amount ($429) or a percentage.
_STATUS = re.compile(r"[1-5](?<![\w.,:/$#%+\-][1-5])\d\d(?![\w%]|[.,:/\-]\d)")
_TRACEBACK = "Traceback (most recent call last)"


class Classifier:
    """Rules indexed once, so that a classification costs a few set and dict lookups.

    Phrases are filed under their first word (or, for one-word phrases, its first three
    letters); each distinct word of the message looks up only the phrases filed under it.
    """

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        self._codes: dict[str, int] = {}
        self._code_prefixes: list[tuple[str, int]] = []
        # A word of the message, or its first three letters, → what is filed under it,
        # by rule order: (order, None) for a code that is this very word, (order, phrase)
        # for a phrase starting with this word, or a one-word phrase starting with these
        # three letters ("throttl" finds "throttled").
        self._by_word: dict[str, list[tuple[int, str | None]]] = {}
        self._anywhere: list[tuple[int, str]] = []
        self._patterns: list[tuple[int, SearchPattern]] = []
        self._statuses: dict[int, int] = {}
        self._types: dict[str, int] = {}
        # Indexed in rule order, so every list of `_by_word` is sorted by order already.
        for order, rule in enumerate(self.rules):
            self._index(order, rule)
        # The rules never change after this, so what a text holds never does either.
        self._by_message = functools.lru_cache(maxsize=FOUND_CACHE)(self._find_in_message)

    def __eq__(self, other: object) -> bool:
        # A classifier is its rules (settings loaded twice compare equal).
        return isinstance(other, Classifier) and other.rules == self.rules

    def __hash__(self) -> int:
        return hash(self.rules)

    def _index(self, order: int, rule: Rule) -> None:
        for code in (c.casefold() for c in rule.codes):
            if code.endswith("."):
                self._code_prefixes.append((code, order))
            else:
                self._codes.setdefault(code, order)
            if _WORD.fullmatch(code):
                self._by_word.setdefault(code, []).append((order, None))
            else:
                self._file_phrase(order, code)
        for phrase in rule.phrases:
            self._file_phrase(order, phrase.casefold())
        if rule.pattern is not None:
            self._patterns.append((order, rule.pattern))
        for status in rule.statuses:
            self._statuses.setdefault(status, order)
        for error_type in rule.error_types:
            self._types.setdefault(error_type, order)

    def _file_phrase(self, order: int, phrase: str) -> None:
        first = _WORD.match(phrase)
        if first is None:  # starts with punctuation: looked for anywhere
            self._anywhere.append((order, phrase))
        elif first.end() < len(phrase) or len(phrase) <= 3:
            self._by_word.setdefault(first.group(), []).append((order, phrase))
        else:
            self._by_word.setdefault(phrase[:3], []).append((order, phrase))

    def classify(self, details: ErrorDetails) -> Verdict:
        if details.code:
            order = self._by_code(details.code.casefold())
            if order is not None:
                return self._verdict(order, "code", details.code)
        text = message_text(details)
        found = self._by_message(text)
        if found is not None:
            return self._verdict(found[0], "message", found[1])
        if details.status is not None:
            order = self._statuses.get(details.status)
            if order is not None:
                return self._verdict(order, "status", str(details.status))
        else:
            for match in _STATUS.finditer(text):
                order = self._statuses.get(int(match.group()))
                if order is not None:
                    return self._verdict(order, "status", match.group())
        if details.error_type is not None:
            order = self._types.get(details.error_type)
            if order is not None:
                return self._verdict(order, "type", details.error_type)
        return Verdict(UNKNOWN)

    def _by_code(self, code: str) -> int | None:
        best = self._codes.get(code)
        for prefix, order in self._code_prefixes:
            if code.startswith(prefix) and (best is None or order < best):
                best = order
        return best

    def _find_in_message(self, text: str) -> tuple[int, str] | None:
        folded = text.casefold()
        best: tuple[int, str] | None = None
        by_word = self._by_word.get
        # Distinct words in the order of the message, so that among phrases of one rule
        # the evidence shown is the first in the text, whatever the hash seed.
        for word in dict.fromkeys(_WORD.findall(folded)):
            for order, phrase in by_word(word, ()):
                if best is not None and order >= best[0]:
                    break
                if phrase is None or _at_word_start(folded, phrase):
                    best = (order, phrase or word)
                    break
            if len(word) <= 3:
                continue
            for order, phrase in by_word(word[:3], ()):
                if best is not None and order >= best[0]:
                    break
                # Under three letters only phrases: a code must be the whole word.
                if phrase is not None and _at_word_start(folded, phrase):
                    best = (order, phrase)
                    break
        for order, phrase in self._anywhere:
            if (best is None or order < best[0]) and phrase in folded:
                best = (order, phrase)
        for order, pattern in self._patterns:
            if best is not None and order >= best[0]:
                break
            if pattern.search(text):
                return (order, pattern.text)
        return best

    def _verdict(self, order: int, signal: str, evidence: str) -> Verdict:
        rule = self.rules[order]
        return Verdict(rule.category, rule.label, signal, evidence)


def _at_word_start(folded: str, phrase: str) -> bool:
    at = folded.find(phrase)
    while at >= 0:
        if at == 0 or not (folded[at - 1].isalnum() or folded[at - 1] == "_"):
            return True
        at = folded.find(phrase, at + 1)
    return False


def message_text(details: ErrorDetails) -> str:
    """What the classifier reads: the messages, bounded, without stack frames."""
    parts = [details.message]
    if details.context_message and details.context_message != details.message:
        parts.append(details.context_message)
    return "\n".join(_without_frames(_bounded(part)) for part in parts if part)


def _bounded(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    return text[: MAX_TEXT - _TAIL] + "\n" + text[-_TAIL:]


def _without_frames(text: str) -> str:
    """Drop "    at fn (file:1:2)" lines (JavaScript, Java) and, inside a Python
    traceback, every indented line ("  File …" and the source line under it)."""
    if "\n" not in text:
        return text
    kept: list[str] = []
    in_traceback = False
    for line in text.splitlines():
        if line.startswith(_TRACEBACK):
            in_traceback = True
            continue
        indented = line[:1] in (" ", "\t")
        if in_traceback and indented:
            continue
        in_traceback = False
        if indented and line.lstrip().startswith("at "):
            continue
        kept.append(line)
    return "\n".join(kept)
