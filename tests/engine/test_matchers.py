"""Matchers: the four operators against a label that is there and one that is not, what a
matcher refuses to be, and how configuration and the store read them."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from receiver.engine.matchers import Matcher, Matchers, all_match, load_stored
from receiver.patterns import PatternError

TEAM_ML = {"team": "ml"}
NO_TEAM: dict[str, str] = {"model_id": "flux-pro"}
TEAM_EMPTY = {"team": ""}


@pytest.mark.parametrize(
    ("op", "value", "labels", "matches"),
    [
        # `=`: the label equals the value.
        ("=", "ml", TEAM_ML, True),
        # `=`: another value does not.
        ("=", "ops", TEAM_ML, False),
        # `=`: an absent label is not the value...
        ("=", "ml", NO_TEAM, False),
        # `=`: ...but it counts as empty, so `team=""` means "team is not set".
        ("=", "", NO_TEAM, True),
        # `=`: a label set to "" is "not set" too.
        ("=", "", TEAM_EMPTY, True),
        # `=`: a set label is not "".
        ("=", "", TEAM_ML, False),
        # `!=`: the label equals the value, so no.
        ("!=", "ml", TEAM_ML, False),
        # `!=`: another value matches.
        ("!=", "ops", TEAM_ML, True),
        # `!=`: an absent label is not the value.
        ("!=", "ml", NO_TEAM, True),
        # `team!=""`, the docstring's example: "team is set"...
        ("!=", "", TEAM_ML, True),
        # ...so it does not match where team is absent...
        ("!=", "", NO_TEAM, False),
        # ...or set to the empty string.
        ("!=", "", TEAM_EMPTY, False),
        # `=~`: the regex matches the whole value.
        ("=~", "m.", TEAM_ML, True),
        # `=~`: anchored: a regex matching only part of the value does not match.
        ("=~", "m", TEAM_ML, False),
        # `=~`: an absent label is "", which `.+` does not match...
        ("=~", ".+", NO_TEAM, False),
        # `=~`: ...and `.*` does.
        ("=~", ".*", NO_TEAM, True),
        # `!~`: the regex matches, so no.
        ("!~", "m.", TEAM_ML, False),
        # `!~`: anchored: a partial match is no match, so yes.
        ("!~", "m", TEAM_ML, True),
        # `!~`: an absent label ("") is not matched by `.+`, so yes...
        ("!~", ".+", NO_TEAM, True),
        # `!~`: ...and is matched by `.*`, so no.
        ("!~", ".*", NO_TEAM, False),
    ],
)
def test_operators_with_the_label_present_and_absent(
    op: str, value: str, labels: dict[str, str], matches: bool
) -> None:
    assert Matcher("team", op, value).matches(labels) is matches


@pytest.mark.parametrize(
    ("name", "op", "value", "error", "words"),
    [
        # A matcher names a label.
        ("", "=", "x", ValueError, "needs a label name"),
        # Only Alertmanager's four operators.
        ("team", "==", "x", ValueError, "is not an operator"),
        # A value no store can hold.
        ("team", "=", "a\x00b", ValueError, "team: a matcher value cannot hold a NUL"),
        # A regex RE2 cannot compile, named with the matcher it is in.
        ("team", "=~", "(", PatternError, "bad regex in 'team=~\"(\"'"),
        # The same for a negative regex.
        ("team", "!~", "[", PatternError, "bad regex in 'team!~\"[\"'"),
    ],
)
def test_what_a_matcher_refuses(
    name: str, op: str, value: str, error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as caught:
        Matcher(name, op, value)
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("op", "has_pattern"),
    [
        # Equality compares text; only the regex operators compile a pattern.
        ("=", False),
        ("!=", False),
        ("=~", True),
        ("!~", True),
    ],
)
def test_only_regex_operators_compile(op: str, has_pattern: bool) -> None:
    # `.` as a regex matches "x"; as text it does not, so this tells the two apart.
    matcher = Matcher("l", op, ".")
    assert (matcher.pattern is not None) is has_pattern
    assert matcher.matches({"l": "x"}) is (op in ("!=", "=~"))


@pytest.mark.parametrize(
    ("text", "found"),
    [
        # One matcher.
        ('team="ml"', Matcher("team", "=", "ml")),
        # One in braces with a trailing comma is still one.
        ('{team!~"m.*",}', Matcher("team", "!~", "m.*")),
    ],
)
def test_parse_one(text: str, found: Matcher) -> None:
    assert Matcher.parse(text) == found


@pytest.mark.parametrize(
    ("text", "words"),
    [
        # Two where one is expected.
        ('team="ml",env="prod"', "holds 2 matchers where one is expected"),
        # None where one is expected.
        ("{}", "holds 0 matchers where one is expected"),
    ],
)
def test_parse_one_refuses_another_count(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Matcher.parse(text)


@pytest.mark.parametrize(
    ("matchers", "matches"),
    [
        # No matchers: everything matches.
        ((), True),
        # Every matcher matches.
        ((Matcher("team", "=", "ml"), Matcher("env", "!=", "dev")), True),
        # One of them does not.
        ((Matcher("team", "=", "ml"), Matcher("env", "=", "dev")), False),
    ],
)
def test_all_match(matchers: tuple[Matcher, ...], matches: bool) -> None:
    assert all_match(matchers, {"team": "ml", "env": "prod"}) is matches


MATCHERS = TypeAdapter(Matchers)
ONE = TypeAdapter(Matcher)


@pytest.mark.parametrize(
    ("written", "read"),
    [
        # A string may hold a comma-separated list.
        ('team="ml", env!="dev"', (Matcher("team", "=", "ml"), Matcher("env", "!=", "dev"))),
        # A list of strings, each with one or more.
        (
            ['team="ml"', 'env=~"p.*",x="1"'],
            (Matcher("team", "=", "ml"), Matcher("env", "=~", "p.*"), Matcher("x", "=", "1")),
        ),
        # A tuple, and matchers already made.
        ((Matcher("team", "=", "ml"),), (Matcher("team", "=", "ml"),)),
        # Nothing.
        ([], ()),
    ],
)
def test_configuration_reads_matchers(written: object, read: tuple[Matcher, ...]) -> None:
    assert MATCHERS.validate_python(written) == read


@pytest.mark.parametrize(
    ("written", "words"),
    [
        # Neither a string nor a list.
        (5, "matchers are a list of strings"),
        ({"team": "ml"}, "matchers are a list of strings"),
        # A list item that is not a string.
        (["team=ml", 5], "a matcher is a string"),
        # A string that is no matcher.
        (["team"], "not a matcher"),
    ],
)
def test_configuration_refuses_what_is_not_matchers(written: object, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        MATCHERS.validate_python(written)


def test_one_matcher_reads_from_a_string_or_a_matcher_and_writes_as_text() -> None:
    matcher = Matcher("team", "!=", "")
    # Read from its text, or taken as it is.
    assert ONE.validate_python('team!=""') == matcher
    assert ONE.validate_python(matcher) is matcher
    # Anything else is refused with an example.
    with pytest.raises(ValidationError, match='a matcher is a string like model_id="flux-pro"'):
        ONE.validate_python(5)
    # Written out (JSON, the API) as Alertmanager's spelling.
    assert ONE.dump_json(matcher) == b'"team!=\\"\\""'


@pytest.mark.parametrize(
    ("stored", "matcher"),
    [
        # Written by `str`: escaped.
        ('team="say \\"hi\\""', Matcher("team", "=", 'say "hi"')),
        # Written by an earlier version: quotes inside left as they were.
        ('team="say "hi""', Matcher("team", "=", 'say "hi"')),
    ],
)
def test_load_stored(stored: str, matcher: Matcher) -> None:
    assert load_stored(stored) == matcher


def test_a_matcher_is_a_value() -> None:
    matcher = Matcher("team", "=~", "m.*")
    # Equal matchers are one key (silences are filed by their matchers)...
    assert {matcher, Matcher("team", "=~", "m.*")} == {matcher}
    # ...and none can change under a key.
    with pytest.raises(AttributeError):
        matcher.value = "x"  # type: ignore[misc]
    # Its repr shows what was written, not the compiled pattern.
    assert repr(matcher) == "Matcher(name='team', op='=~', value='m.*')"
