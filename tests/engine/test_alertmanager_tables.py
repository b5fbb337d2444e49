"""Alertmanager's own test tables, run against failwatch's matchers, routes and config
checks (the data and where each table comes from: `alertmanager_cases`)."""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from receiver.engine.matchers import Matcher, load_stored, parse_matchers
from receiver.engine.patterns import PatternError, compile_user_pattern
from receiver.engine.routing import DEFAULT_GROUP_BY, RouteConfig, Timing, build_routes
from tests.engine import alertmanager_cases as am

README = Path(__file__).resolve().parents[2] / "README.md"
DEFAULTS = Timing(
    group_wait=30, group_interval=300, repeat_interval=14400, resolve_after=1800, send_resolved=True
)


def answer(text: str, *, single: bool = False) -> am.Answer:
    try:
        found = (Matcher.parse(text),) if single else parse_matchers(text)
    except ValueError as exc:
        assert_names_the_input(str(exc), text)
        return am.REFUSED
    return tuple((m.name, m.op, m.value) for m in found)


def assert_names_the_input(message: str, text: str) -> None:
    """A refusal quotes (Python-style) the part of the input it refuses."""
    quoted = re.search(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\"""", message)
    assert quoted is not None, message
    part = ast.literal_eval(quoted.group())
    assert part in text, message
    assert part or not text.strip(), message


def case_id(case: am.ParseCase) -> str:
    return repr(case.text)


@pytest.mark.parametrize("case", am.CLASSIC_PARSE, ids=case_id)
def test_classic_parser_table(case: am.ParseCase) -> None:
    assert answer(case.text) == case.expected


@pytest.mark.parametrize("case", am.UTF8_PARSE, ids=case_id)
def test_utf8_parser_table(case: am.ParseCase) -> None:
    assert answer(case.text) == case.expected


@pytest.mark.parametrize("case", am.UTF8_SINGLE, ids=case_id)
def test_single_matcher_table(case: am.ParseCase) -> None:
    assert answer(case.text, single=True) == case.expected


ALL_PARSE_CASES = [*am.CLASSIC_PARSE, *am.UTF8_PARSE, *am.UTF8_SINGLE]


def test_every_difference_is_in_the_readme_and_every_case_has_a_known_verdict() -> None:
    readme = README.read_text()
    section = readme.split("## Differences from Alertmanager", 1)[1].split("\n## ", 1)[0]
    # The README lists exactly the differences the tests know, in the same order.
    assert re.findall(r"^- \*\*(.+?)\.\*\*", section, re.MULTILINE) == list(am.DIFFERENCES)
    known = {None, am.DEFAULT_MODE, am.NOT_APPLICABLE, *am.DIFFERENCES}
    verdicts = [c.verdict for c in ALL_PARSE_CASES] + [c.verdict for c in am.CONFIG]
    assert set(verdicts) <= known
    # A case that does not agree says what failwatch answers instead.
    for case in ALL_PARSE_CASES:
        assert (case.verdict is None) == (case.failwatch is None), case


@pytest.mark.parametrize("case", am.MATCH, ids=lambda c: f"{c.op}{c.pattern!r}~{c.value!r}")
def test_matcher_table(case: am.MatchCase) -> None:
    assert Matcher("label", case.op, case.pattern).matches({"label": case.value}) is case.matches


@pytest.mark.parametrize(("triple", "text"), am.STRING, ids=[t for _, t in am.STRING])
def test_string_table_and_back(triple: tuple[str, str, str], text: str) -> None:
    matcher = Matcher(*triple)
    assert str(matcher) == text
    assert Matcher.parse(text) == matcher


# Names and values as anything can hold them: any text but lone surrogates (not text).
CHARACTERS = st.characters(exclude_categories=["Cs"])
TEXT = st.text(CHARACTERS)
NAMES = st.text(CHARACTERS, min_size=1)
OPERATORS = st.sampled_from(["=", "!=", "=~", "!~"])


def compiles(pattern: str) -> bool:
    try:
        compile_user_pattern(pattern)
    except PatternError:
        return False
    return True


@st.composite
def matchers(draw: st.DrawFn) -> Matcher:
    name, op = draw(NAMES), draw(OPERATORS)
    value = draw(TEXT.filter(compiles) if op in ("=~", "!~") else TEXT)
    return Matcher(name, op, value)


@given(matchers())
def test_str_reads_back_as_the_same_matcher(matcher: Matcher) -> None:
    assert Matcher.parse(str(matcher)) == matcher


@given(st.lists(matchers(), max_size=5))
def test_a_list_of_strs_reads_back_with_or_without_braces(ms: Sequence[Matcher]) -> None:
    text = ",".join(str(m) for m in ms)
    assert parse_matchers(text) == tuple(ms)
    assert parse_matchers("{" + text + "}") == tuple(ms)
    spaced = " { " + " , ".join(str(m) for m in ms) + (" , } " if ms else " } ")
    assert parse_matchers(spaced) == tuple(ms)


@given(st.text(max_size=60))
def test_any_text_parses_or_is_refused_with_a_reason(text: str) -> None:
    reason = "parsed"
    try:
        parse_matchers(text)
    except ValueError as exc:
        reason = str(exc)
    assert reason


@pytest.mark.parametrize(
    ("table", "case"),
    [(t, c) for t in am.ROUTE_TABLES for c in t.cases],
    ids=[f"{t.title}-{sorted(c.labels.items())}" for t in am.ROUTE_TABLES for c in t.cases],
)
def test_route_tables(table: am.RouteTable, case: am.RouteCase) -> None:
    config = RouteConfig.model_validate(yaml.safe_load(table.tree))
    root, problems = build_routes(config, defaults=DEFAULTS, receivers=am.ROUTE_RECEIVERS)
    assert problems == []
    got = [
        (
            r.receiver,
            r.group_by,
            r.timing.group_wait,
            r.timing.group_interval,
            r.timing.repeat_interval,
        )
        for r in root.match(case.labels)
    ]
    # Where Alertmanager's table expects the tree's default grouping (none: one group per
    # route), failwatch groups by category and model — a listed difference.
    assert "Failures are grouped by category and model unless a route says otherwise" in (
        am.DIFFERENCES
    )
    want = [
        (
            o.receiver,
            DEFAULT_GROUP_BY if o.group_by is None else o.group_by,
            o.group_wait,
            o.group_interval,
            o.repeat_interval,
        )
        for o in case.want
    ]
    assert got == want


def test_route_walk_order() -> None:
    config = RouteConfig.model_validate(yaml.safe_load(am.ROUTE_TABLES[0].tree))
    root, _ = build_routes(config, defaults=DEFAULTS, receivers=am.ROUTE_RECEIVERS)
    assert tuple(r.receiver for r in root.walk()) == am.ROUTE_WALK


def test_group_by_all_is_inherited_and_replaced() -> None:
    config = RouteConfig.model_validate(yaml.safe_load(am.GROUP_BY_ALL_INHERITED))
    root, problems = build_routes(config, defaults=DEFAULTS, receivers=am.ROUTE_RECEIVERS)
    assert problems == []
    parent = root.children[0]
    child1, child2 = parent.children
    assert parent.groups_by_every_label
    assert child1.groups_by_every_label
    assert not child2.groups_by_every_label
    labels = {"env": "child1", "model_id": "flux-pro", "id": "g-1"}
    # `...`: the group is the failure's whole label set; a named list picks those labels.
    assert child1.group_labels(labels) == labels
    assert child2.group_labels({"env": "child2", "foo": "x", "id": "g-2"}) == {"foo": "x"}


def config_problems(route: str) -> list[str]:
    try:
        config = RouteConfig.model_validate(yaml.safe_load(route))
    except ValidationError as exc:
        return [str(exc)]
    _, problems = build_routes(config, defaults=DEFAULTS, receivers=am.ROUTE_RECEIVERS)
    return problems


@pytest.mark.parametrize("case", am.CONFIG, ids=lambda c: c.title)
def test_config_route_checks(case: am.ConfigCase) -> None:
    refused = bool(config_problems(case.route))
    if case.verdict == am.DEFAULT_MODE:
        assert refused is not case.refused
    else:
        assert refused is case.refused


# What surprised users before: each of these answered differently, silently.


@pytest.mark.parametrize(
    ("text", "value", "matches"),
    [
        ('model_id=~"flux\\\\.pro"', "flux.pro", True),
        ('model_id=~"flux\\\\.pro"', "fluxXpro", False),
        ('l=~"\\\\d+"', "123", True),
        ('error_type="say \\"hi\\""', 'say "hi"', True),
        ('l=~"[[:digit:]]+"', "123", True),
        ('l=~"[[:digit:]]+"', "12a", False),
    ],
)
def test_quoted_values_decode_alertmanagers_escapes(text: str, value: str, matches: bool) -> None:
    matcher = Matcher.parse(text)
    assert matcher.matches({matcher.name: value}) is matches


@pytest.mark.parametrize("text", ['model_id="flux', 'model_id=flux"', 'foo"bar', '{foo=:"bar"}'])
def test_malformed_quoting_is_refused_naming_the_matcher(text: str) -> None:
    with pytest.raises(ValueError, match="not a matcher") as caught:
        parse_matchers(text)
    assert_names_the_input(str(caught.value), text)


@pytest.mark.parametrize(
    "written",
    [
        ['model_id="sdxl",category="timeout"'],
        ['{model_id="sdxl", category="timeout"}'],
        ["model_id=sdxl", "category=timeout"],
    ],
)
def test_a_comma_list_in_one_string_routes(written: list[str]) -> None:
    config = RouteConfig.model_validate(
        {"receiver": "notify-def", "routes": [{"matchers": written, "receiver": "notify-A"}]}
    )
    root, problems = build_routes(config, defaults=DEFAULTS, receivers=am.ROUTE_RECEIVERS)
    assert problems == []
    assert len(root.children[0].matchers) == 2
    hit = root.match({"model_id": "sdxl", "category": "timeout"})
    miss = root.match({"model_id": "sdxl", "category": "quota"})
    assert [r.receiver for r in hit] == ["notify-A"]
    assert [r.receiver for r in miss] == ["notify-def"]


@pytest.mark.parametrize("text", ["model_id='flux'", "{a=b, model_id = 'flux' }"])
def test_values_between_single_quotes_are_refused(text: str) -> None:
    assert "Values between single quotes are refused" in am.DIFFERENCES
    with pytest.raises(ValueError, match="single quotes") as caught:
        parse_matchers(text)
    assert_names_the_input(str(caught.value), text)
    # A single quote inside a value is only a character, here as in Alertmanager.
    assert parse_matchers("{foo='}") == (Matcher("foo", "=", "'"),)


def test_a_matcher_stored_by_an_earlier_version_still_reads() -> None:
    # Earlier versions wrote `name op "value"` with the value unescaped.
    assert load_stored('error_type="say "hi""') == Matcher("error_type", "=", 'say "hi"')
    assert load_stored('model_id=~"flux-.*"') == Matcher("model_id", "=~", "flux-.*")


def test_a_reading_whose_regex_does_not_compile_gives_way_to_the_other() -> None:
    # As in Alertmanager's default mode: the classic reading keeps `\u0041` as written,
    # which is no regex, so the UTF-8 reading (`A`) is the one used.
    assert parse_matchers('foo=~"\\u0041"') == (Matcher("foo", "=~", "A"),)
