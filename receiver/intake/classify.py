"""Classify: which category a failure belongs to, from its error message and type.

Rules are tried in order and the first match wins; a rule matches when *any* of its
conditions does (an error type in `error_types`, a substring of `message_contains`,
case-insensitive, or `message_regex`). Nothing matches → `unknown`. The default
`rate_limit` rule is the guide's own query: "rate limit" or "429" in the message, or
`errorContext.type = 'RateLimitError'`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from receiver.model import ErrorDetails
from receiver.patterns import PatternError, UserPattern, compile_user_pattern

UNKNOWN = "unknown"
STUCK = "stuck"
_CATEGORY = r"^[a-z][a-z0-9_]{0,39}$"


class ClassifierRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    category: str = Field(pattern=_CATEGORY)
    error_types: tuple[str, ...] = ()
    message_contains: tuple[str, ...] = ()
    # Run in RE2 on up to the whole body of a webhook: linear time whatever the pattern.
    message_regex: UserPattern | None = None
    _needles: tuple[str, ...] = PrivateAttr(default=())

    @field_validator("message_regex", mode="before")
    @classmethod
    def _case_insensitive(cls, value: object) -> object:
        # Like message_contains, and like the built-in rules: case does not matter.
        if not isinstance(value, str):
            return value
        try:
            return compile_user_pattern(value, ignore_case=True)
        except PatternError as exc:
            raise ValueError(f"not a usable regular expression: {exc}") from None

    @model_validator(mode="after")
    def _has_a_condition(self) -> Self:
        if not (self.error_types or self.message_contains or self.message_regex):
            raise ValueError("a rule needs error_types, message_contains or message_regex")
        if self.category in (UNKNOWN, STUCK):
            raise ValueError(f"{self.category!r} is assigned by failwatch itself")
        self._needles = tuple(needle.casefold() for needle in self.message_contains)
        return self

    def matches(self, details: ErrorDetails) -> bool:
        return self._matches(details, _texts(details))

    def _matches(self, details: ErrorDetails, texts: _Texts) -> bool:
        if details.error_type is not None and details.error_type in self.error_types:
            return True
        if any(
            needle.casefold() in text for needle in self.message_contains for text in texts.folded
        ):
            return True
        regex = self.message_regex
        return regex is not None and any(regex.search(text) for text in texts.original)


class _Texts:
    """The messages a rule looks at, folded once for every rule of a classification."""

    __slots__ = ("folded", "original")

    def __init__(self, original: list[str]) -> None:
        self.original = original
        self.folded = [text.casefold() for text in original]


def _texts(details: ErrorDetails) -> _Texts:
    return _Texts([t for t in (details.message, details.context_message) if t])


def _rule(
    category: str,
    *,
    types: Sequence[str] = (),
    contains: Sequence[str] = (),
    regex: str | None = None,
) -> ClassifierRule:
    return ClassifierRule(
        category=category,
        error_types=tuple(types),
        message_contains=tuple(contains),
        message_regex=compile_user_pattern(regex, ignore_case=True) if regex else None,
    )


DEFAULT_RULES: tuple[ClassifierRule, ...] = (
    _rule("rate_limit", types=["RateLimitError"], contains=["rate limit", "429"]),
    _rule(
        "timeout",
        types=["TimeoutError", "ModelTimeoutError"],
        regex=r"timed?[ -]?out|deadline exceeded|ETIMEDOUT",
    ),
    _rule(
        "content_policy",
        types=["ContentPolicyError", "SafetyError", "ModerationError"],
        regex=r"content[ _-]?policy|nsfw|safety (system|filter|check)|moderation|flagged",
    ),
    _rule("model_error", types=["ModelGenerationError"]),
)


def classify(details: ErrorDetails, rules: Sequence[ClassifierRule] = DEFAULT_RULES) -> str:
    """The category of the first rule that matches, else `unknown`."""
    texts = _texts(details)
    for rule in rules:
        if rule._matches(details, texts):
            return rule.category
    return UNKNOWN
