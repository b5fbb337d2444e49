"""The `classifier` section: your rules, whether they replace or extend the defaults,
and examples that `check-config` classifies to prove the rules do what you meant.

```yaml
classifier:
  extend_defaults: true        # your rules first, then the defaults (else yours alone)
  rules:
    - name: our GPU pool       # shown by `failwatch classify`; defaults to the category
      category: provider_unavailable
      codes: [POOL_EMPTY]      # errorContext.code, or the code alone in the message
      statuses: [503]          # errorContext.status, or the status alone in the message
      error_types: [PoolError] # errorContext.type: a hint, weighed last
      message_contains: ["no GPU available"]   # phrases, starting where a word starts
      message_regex: "queue (full|closed)"     # RE2, case-insensitive
  examples:
    - {message: "no GPU available in pool eu-2", category: provider_unavailable}
```

Regexes run in RE2 (`receiver/patterns.py`), in time linear in the message, so no rule
can freeze the process on a hostile error text.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    WithJsonSchema,
    model_validator,
)

from receiver.intake.classify import STUCK, UNKNOWN, Classifier, Rule
from receiver.intake.classify_rules import DEFAULT_RULES
from receiver.model import ErrorDetails
from receiver.patterns import PatternError, UserPattern, compile_user_pattern

CATEGORY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"

_Code = Annotated[str, Field(min_length=1, max_length=100)]
_Text = Annotated[str, Field(min_length=1, max_length=200)]
_MAX_REGEX = 1000


def _compiled(value: object) -> UserPattern:
    if isinstance(value, UserPattern):
        return value
    if not isinstance(value, str) or not value or len(value) > _MAX_REGEX:
        raise ValueError(f"expected a regular expression of 1 to {_MAX_REGEX} characters")
    try:
        return compile_user_pattern(value, ignore_case=True)
    except PatternError as exc:
        raise ValueError(str(exc)) from None


# Compiled while the configuration loads, so a bad pattern is refused with its key named.
_Regex = Annotated[
    UserPattern,
    PlainValidator(_compiled),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string"}),
]


class ClassifierRule(BaseModel):
    """One rule: a category and the conditions that name it (any one is enough)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: str = Field(pattern=CATEGORY_PATTERN)
    name: str | None = Field(None, min_length=1, max_length=80)
    codes: tuple[_Code, ...] = ()
    statuses: tuple[Annotated[int, Field(ge=100, le=599)], ...] = ()
    error_types: tuple[_Text, ...] = ()
    message_contains: tuple[_Text, ...] = ()
    message_regex: _Regex | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not (
            self.codes
            or self.statuses
            or self.error_types
            or self.message_contains
            or self.message_regex
        ):
            raise ValueError(
                "a rule needs codes, statuses, error_types, message_contains or message_regex"
            )
        if self.category in (UNKNOWN, STUCK):
            raise ValueError(f"{self.category!r} is assigned by failwatch itself")
        return self

    def rule(self) -> Rule:
        return Rule(
            category=self.category,
            name=self.name,
            codes=self.codes,
            statuses=self.statuses,
            error_types=self.error_types,
            phrases=self.message_contains,
            pattern=self.message_regex,
        )


class ClassifierExample(BaseModel):
    """A message and the category it must get: `check-config` fails when it does not."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message: str = Field(max_length=65536)
    type: str | None = Field(None, min_length=1, max_length=200)
    status: int | None = Field(None, ge=100, le=599)
    code: str | None = Field(None, min_length=1, max_length=100)
    category: str = Field(pattern=CATEGORY_PATTERN)

    def details(self) -> ErrorDetails:
        return ErrorDetails(
            message=self.message, error_type=self.type, code=self.code, status=self.status
        )


class ClassifierSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # None: the default rules. A list replaces them, unless `extend_defaults` puts it
    # in front of them.
    rules: tuple[ClassifierRule, ...] | None = None
    extend_defaults: bool = False
    examples: tuple[ClassifierExample, ...] = ()
    _classifier: Classifier = PrivateAttr()

    @model_validator(mode="after")
    def _build(self) -> Self:
        if self.rules is None:
            rules: tuple[Rule, ...] = DEFAULT_RULES
        else:
            rules = tuple(rule.rule() for rule in self.rules)
            if self.extend_defaults:
                rules += DEFAULT_RULES
        self._classifier = Classifier(rules)
        return self

    @property
    def classifier(self) -> Classifier:
        return self._classifier

    def mismatches(self) -> list[str]:
        """One line per example the rules file elsewhere, naming it by its position."""
        lines = []
        for index, example in enumerate(self.examples):
            verdict = self._classifier.classify(example.details())
            if verdict.category != example.category:
                lines.append(
                    f"classifier.examples.{index}: expected {example.category}, got"
                    f" {verdict.category} ({verdict.explain()}): {example.message[:120]!r}"
                )
        return lines
