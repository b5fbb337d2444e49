"""Label matchers, Alertmanager style: `name=value`, `name!=value`, `name=~regex`,
`name!~regex`, written in Alertmanager's syntax (`matcher_syntax`: quoted or unquoted
values, its escapes, comma lists with or without braces). Regexes run in RE2 and are
anchored (they must match the whole value); a label that is absent matches as the empty
string, so `team!=""` means "team is set"."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BeforeValidator, GetCoreSchemaHandler
from pydantic_core import core_schema

from receiver.engine import matcher_syntax
from receiver.engine.patterns import PatternError, UserPattern, compile_user_pattern

REGEX_OPERATORS = ("=~", "!~")


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: str
    value: str
    pattern: UserPattern | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError(f"a matcher needs a label name: {self}")
        if self.op not in matcher_syntax.OPERATORS:
            raise ValueError(f"{self.op!r} is not an operator (=, !=, =~ or !~)")
        if self.op in REGEX_OPERATORS:
            try:
                object.__setattr__(self, "pattern", _compiled(self.value))
            except PatternError as exc:
                raise PatternError(f"bad regex in {str(self)!r}: {exc}") from None

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """The one matcher in `text` (braces and a trailing comma allowed)."""
        found = parse_matchers(text)
        if len(found) != 1:
            raise ValueError(f"{text!r} holds {len(found)} matchers where one is expected")
        return found[0]

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.pattern is None:
            return (actual == self.value) is (self.op == "=")
        return self.pattern.fullmatch(actual) is (self.op == "=~")

    def __str__(self) -> str:
        """Alertmanager's spelling; `Matcher.parse` reads it back to an equal matcher."""
        return matcher_syntax.format_matcher(self.name, self.op, self.value)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _coerce, serialization=core_schema.to_string_ser_schema()
        )


def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """Every matcher in `text`: one, or a comma-separated list with or without braces."""
    return tuple(matcher_syntax.parse(text, Matcher))


def load_stored(text: str) -> Matcher:
    """A matcher as the store holds it: written by `str`, or by earlier versions, which
    wrote the value between quotes without escaping it."""
    try:
        return Matcher.parse(text)
    except ValueError:
        name, op, value = matcher_syntax.parse_unescaped(text)
        return Matcher(name, op, value)


def all_match(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def _coerce(value: object) -> Matcher:
    if isinstance(value, Matcher):
        return value
    if isinstance(value, str):
        return Matcher.parse(value)
    raise ValueError('a matcher is a string like model_id="flux-pro"')


def _flatten(value: object) -> tuple[Matcher, ...]:
    # Like Alertmanager's `matchers:`, each string may hold a comma-separated list.
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError('matchers are a list of strings like model_id="flux-pro"')
    found: list[Matcher] = []
    for item in items:
        if isinstance(item, Matcher):
            found.append(item)
        elif isinstance(item, str):
            found.extend(parse_matchers(item))
        else:
            raise ValueError('a matcher is a string like model_id="flux-pro"')
    return tuple(found)


Matchers = Annotated[tuple[Matcher, ...], BeforeValidator(_flatten)]

# Routes and silences are re-read often with the same few patterns; compile each once.
_compiled = functools.lru_cache(maxsize=4096)(compile_user_pattern)
