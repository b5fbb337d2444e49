"""Label matchers, Alertmanager style: `name=value`, `name!=value`, `name=~regex`,
`name!~regex`. Regexes are anchored (they must match the whole value) and run in RE2
(`receiver.patterns`), so no pattern can take more than linear time; a label that
is absent matches as the empty string, so `team!=""` means "team is set"."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from receiver.patterns import PatternError, UserPattern, compile_user_pattern
from receiver.text import unstorable

_FORM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: str
    value: str
    # Compiled once, when the matcher is made: a silence is matched against every
    # failure while it lasts.
    _pattern: UserPattern | None = field(init=False, default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if (reason := unstorable(self.value)) is not None:
            raise ValueError(f"{self.name}: a matcher value cannot hold {reason}")
        if self.op in ("=~", "!~"):
            object.__setattr__(self, "_pattern", compile_user_pattern(self.value))

    @classmethod
    def parse(cls, text: str) -> Matcher:
        found = _FORM.match(text)
        if found is None:
            raise ValueError(f"not a matcher: {text!r} (use name=value, !=, =~ or !~)")
        name, op, value = found.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        try:
            return cls(name, op, value)
        except PatternError as exc:
            raise ValueError(f"bad regex in {text!r}: {exc}") from None

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self._pattern is not None  # made in __post_init__ for both regex operators
        hit = self._pattern.fullmatch(actual)
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _coerce, serialization=core_schema.to_string_ser_schema()
        )


def _coerce(value: object) -> Matcher:
    if isinstance(value, Matcher):
        return value
    if isinstance(value, str):
        return Matcher.parse(value)
    raise ValueError("a matcher is a string like model_id=flux-pro")


def all_match(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
