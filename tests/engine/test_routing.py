"""Routing: a two-level tree resolved field by field (what each route sets, what it
inherits), which routes take a failure, and each check of the tree at load."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from receiver.engine.matchers import Matcher
from receiver.engine.routing import (
    DEFAULT_GROUP_BY,
    DEFAULT_MAX_GROUPS,
    Route,
    RouteConfig,
    Timing,
    build_routes,
)

DEFAULTS = Timing(
    group_wait=30, group_interval=300, repeat_interval=14400, resolve_after=1800, send_resolved=True
)
RECEIVERS = ("oncall", "ml-team", "db-team", "log-only")

# Two levels: the root sets its own group_by and a timing; `ml` overrides others and its
# child `ml-slow` overrides one more; `db` sets nothing and inherits the root's.
TREE: dict[str, Any] = {
    "receiver": "oncall",
    "group_by": ["category"],
    "group_wait": "10s",
    "max_groups": 20,
    "routes": [
        {
            "name": "ml",
            "receiver": "ml-team",
            "matchers": ['team="ml"'],
            "group_by": ["model_id", "error_type"],
            "group_interval": "10m",
            "send_resolved": False,
            "continue": True,
            "routes": [
                {
                    "name": "ml-slow",
                    "matchers": ['category="timeout"'],
                    "repeat_interval": "1h",
                    "resolve_after": "5m",
                    "max_groups": 5,
                },
            ],
        },
        {"name": "db", "receiver": "db-team", "match": {"team": "db"}},
        {"name": "any-team", "receiver": "log-only", "match_re": {"team": ".+"}},
    ],
}


def resolve(tree: dict[str, Any], **kwargs: Any) -> tuple[Route, list[str]]:
    return build_routes(
        RouteConfig.model_validate(tree), defaults=DEFAULTS, receivers=RECEIVERS, **kwargs
    )


def timing(wait: float, interval: float, repeat: float, resolve: float, resolved: bool) -> Timing:
    return Timing(
        group_wait=wait,
        group_interval=interval,
        repeat_interval=repeat,
        resolve_after=resolve,
        send_resolved=resolved,
    )


# Each route of TREE resolved: (receiver, matchers, group_by, timing, max_groups, continue).
RESOLVED = {
    # The root: its own receiver, group_by, group_wait and max_groups; the rest defaults.
    "route": ("oncall", (), ("category",), timing(10, 300, 14400, 1800, True), 20, False),
    # `ml`: its own receiver, matchers, group_by, group_interval, send_resolved and
    # continue; group_wait and max_groups from the root, the rest from the defaults.
    "ml": (
        "ml-team",
        (Matcher("team", "=", "ml"),),
        ("model_id", "error_type"),
        timing(10, 600, 14400, 1800, False),
        20,
        True,
    ),
    # `ml-slow`: receiver, group_by, group_wait, group_interval and send_resolved from
    # `ml` (a child inherits from its parent, not the root); its own repeat_interval,
    # resolve_after and max_groups; continue is not inherited.
    "ml-slow": (
        "ml-team",
        (Matcher("category", "=", "timeout"),),
        ("model_id", "error_type"),
        timing(10, 600, 3600, 300, False),
        5,
        False,
    ),
    # `db`: `match` read as an equality matcher; everything else from the root.
    "db": (
        "db-team",
        (Matcher("team", "=", "db"),),
        ("category",),
        timing(10, 300, 14400, 1800, True),
        20,
        False,
    ),
    # `any-team`: `match_re` read as a regex matcher.
    "any-team": (
        "log-only",
        (Matcher("team", "=~", ".+"),),
        ("category",),
        timing(10, 300, 14400, 1800, True),
        20,
        False,
    ),
}


def test_each_route_is_resolved_field_by_field() -> None:
    root, problems = resolve(TREE, max_groups=50)
    assert problems == []
    routes = root.walk()
    # Depth first, in the order written.
    assert [r.id for r in routes] == ["route", "ml", "ml-slow", "db", "any-team"]
    for route in routes:
        fields = route.receiver, route.matchers, route.group_by, route.timing
        assert (*fields, route.max_groups, route.continue_) == RESOLVED[route.id], route.id
    assert [len(r.children) for r in routes] == [3, 1, 0, 0, 0]


def test_unnamed_routes_are_named_by_their_place_and_defaults_fill_the_rest() -> None:
    root, problems = resolve({"receiver": "oncall", "routes": [{"routes": [{}]}]}, max_groups=7)
    assert problems == []
    (child,) = root.children
    (grandchild,) = child.children
    assert [r.id for r in root.walk()] == ["route", "route.routes[0]", "route.routes[0].routes[0]"]
    # The design's default grouping: one group per category and model.
    assert DEFAULT_GROUP_BY == ("category", "model_id")
    for route in root.walk():
        # Nothing set anywhere: the receiver from the root, the defaults for the rest.
        assert route.receiver == "oncall"
        assert route.group_by == DEFAULT_GROUP_BY
        assert route.timing == DEFAULTS
        assert route.max_groups == 7
    assert grandchild.children == ()


def test_max_groups_defaults_to_fifty() -> None:
    root, _ = build_routes(RouteConfig(receiver="oncall"), defaults=DEFAULTS, receivers=RECEIVERS)
    assert root.max_groups == DEFAULT_MAX_GROUPS == 50


def test_a_resolved_tree_is_made_of_values() -> None:
    root, _ = resolve(TREE)
    config = RouteConfig.model_validate(TREE)
    # Routes are shared by every pass of the dispatcher: none can be changed in place.
    with pytest.raises(AttributeError):
        root.receiver = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        root.timing.group_wait = 0  # type: ignore[misc]
    with pytest.raises(ValidationError):
        config.receiver = "x"  # type: ignore[misc]


def test_a_route_reads_continue_under_either_name() -> None:
    # `continue` is YAML's word (and Python's keyword); code may say `continue_`.
    assert RouteConfig.model_validate({"continue": True}).continue_ is True
    assert RouteConfig(receiver="oncall", continue_=True).continue_ is True


def test_reading_match_leaves_the_input_as_it_was() -> None:
    written = {"receiver": "oncall", "match": {"team": "ml"}, "matchers": ['env="prod"']}
    RouteConfig.model_validate(written)
    assert written == {"receiver": "oncall", "match": {"team": "ml"}, "matchers": ['env="prod"']}


@pytest.mark.parametrize(
    ("route", "group_by"),
    [
        # Written as nothing: inherited.
        ({"group_by": None}, None),
        # An empty list: no label, one group for the route.
        ({"group_by": []}, ()),
    ],
)
def test_group_by_unset_or_empty(route: dict[str, Any], group_by: tuple[str, ...] | None) -> None:
    assert RouteConfig.model_validate(route).group_by == group_by


@pytest.mark.parametrize(
    "timings",
    [
        # The smallest intervals that are more than zero.
        {"group_interval": 1, "repeat_interval": 1, "resolve_after": 1},
        {"group_interval": "1ms", "repeat_interval": "1ms", "resolve_after": "1ms"},
        # group_wait may be zero: the first message goes at once.
        {"group_wait": 0},
    ],
)
def test_short_timings_are_accepted(timings: dict[str, Any]) -> None:
    _, problems = resolve({"receiver": "oncall", **timings})
    assert problems == []


@pytest.mark.parametrize(
    ("labels", "taken"),
    [
        # Team ml, not a timeout: `ml`, and (continue) the next sibling that matches.
        ({"team": "ml", "category": "quota"}, ["ml", "any-team"]),
        # Team ml and a timeout: into `ml-slow`, then on to the sibling.
        ({"team": "ml", "category": "timeout"}, ["ml-slow", "any-team"]),
        # Team db: `db`, which does not continue, so `any-team` is not reached.
        ({"team": "db"}, ["db"]),
        # Another team: only the regex route.
        ({"team": "web"}, ["any-team"]),
        # No team: no child matches, so the root takes it.
        ({"category": "quota"}, ["route"]),
    ],
)
def test_which_routes_take_a_failure(labels: dict[str, str], taken: list[str]) -> None:
    root, _ = resolve(TREE)
    assert [route.id for route in root.match(labels)] == taken


@pytest.mark.parametrize(
    ("group_by", "labels", "group"),
    [
        # The named labels, "" for one the failure lacks.
        (
            ["category", "model_id"],
            {"category": "quota", "user": "u1"},
            {"category": "quota", "model_id": ""},
        ),
        # `...`: every label of the failure.
        (["..."], {"category": "quota", "user": "u1"}, {"category": "quota", "user": "u1"}),
        # No label at all: one group for the route.
        ([], {"category": "quota"}, {}),
    ],
)
def test_group_labels(group_by: list[str], labels: dict[str, str], group: dict[str, str]) -> None:
    root, problems = resolve({"receiver": "oncall", "group_by": group_by})
    assert problems == []
    assert root.groups_by_every_label is (group_by == ["..."])
    assert root.group_labels(labels) == group


@pytest.mark.parametrize(
    ("tree", "problem"),
    [
        # The root matches everything: matchers on it are refused.
        (
            {"receiver": "oncall", "matchers": ['team="ml"']},
            "route: the root route matches everything; it takes no matchers",
        ),
        # The root has no siblings to continue to.
        (
            {"receiver": "oncall", "continue": True},
            "route.continue: the root route has no siblings to continue to",
        ),
        # A root without a receiver leaves failures nowhere to go.
        ({"routes": [{"receiver": "oncall"}]}, "route.receiver: the root route needs a receiver"),
        # A receiver must be defined (named with the place and the ones that are).
        (
            {"receiver": "oncall", "routes": [{"receiver": "nobody"}]},
            "route.routes[0].receiver: 'nobody' is not a defined receiver "
            "(db-team, log-only, ml-team, oncall)",
        ),
        # Zero intervals would flush or repeat without pause; zero quiet resolves at once.
        ({"receiver": "oncall", "group_interval": 0}, "route.group_interval: must be more than 0"),
        (
            {"receiver": "oncall", "repeat_interval": "0s"},
            "route.repeat_interval: must be more than 0",
        ),
        ({"receiver": "oncall", "resolve_after": 0}, "route.resolve_after: must be more than 0"),
        # The checks reach a child, named by its place.
        (
            {"receiver": "oncall", "routes": [{"routes": [{"group_interval": 0}]}]},
            "route.routes[0].routes[0].group_interval: must be more than 0",
        ),
        # Two routes with one name would share their groups' identity.
        (
            {"receiver": "oncall", "routes": [{"name": "a"}, {"routes": [{"name": "a"}]}]},
            "route: two routes share the name 'a'",
        ),
    ],
)
def test_tree_checks(tree: dict[str, Any], problem: str) -> None:
    _, problems = resolve(tree)
    assert problems == [problem]


def test_a_tree_with_several_problems_names_each() -> None:
    root, problems = resolve({"matchers": ['a="1"'], "continue": True, "resolve_after": 0})
    # Resolved all the same, for the checks that follow; the missing receiver is "".
    assert root.receiver == ""
    assert problems == [
        "route: the root route matches everything; it takes no matchers",
        "route.continue: the root route has no siblings to continue to",
        "route.receiver: the root route needs a receiver",
        "route.resolve_after: must be more than 0",
    ]


def test_a_defined_receiver_list_that_is_empty_says_none() -> None:
    _, problems = build_routes(RouteConfig(receiver="oncall"), defaults=DEFAULTS, receivers=())
    assert problems == ["route.receiver: 'oncall' is not a defined receiver (none)"]


@pytest.mark.parametrize(
    ("route", "words"),
    [
        # `...` means every label; other names beside it mean nothing.
        (
            {"group_by": ["...", "category"]},
            "'...' (every label) cannot be listed with other labels",
        ),
        # A label name is never empty.
        ({"group_by": ["category", ""]}, "a label name cannot be empty"),
        # A label listed twice.
        ({"group_by": ["category", "model_id", "category"]}, "'category' is listed twice"),
        # `match` is a map of names to values.
        ({"match": ["team=ml"]}, "match is a map of label names to values"),
        ({"match_re": "team"}, "match_re is a map of label names to values"),
        # A value that is not text or a number.
        ({"match": {"team": None}}, "match.team: needs a value, like team: flux-pro"),
        ({"match": {"team": True}}, "match.team: needs a value, like team: flux-pro"),
        ({"match_re": {"team": ["a"]}}, "match_re.team: needs a value, like team: flux-pro"),
        # A name is a short word.
        ({"name": "two words"}, "String should match pattern"),
        # At least one group per route.
        ({"max_groups": 0}, "greater than or equal to 1"),
        # `matchers:` left empty is no list.
        ({"matchers": None}, "matchers are a list of strings"),
        # Unknown keys are refused.
        ({"recevier": "oncall"}, "Extra inputs are not permitted"),
    ],
)
def test_route_fields_refused(route: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RouteConfig.model_validate({"receiver": "oncall", **route})
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("route", "matchers"),
    [
        # `match` and `match_re` join `matchers`, in that order.
        (
            {"matchers": ['a="1"'], "match": {"b": 2}, "match_re": {"c": "x.*"}},
            (Matcher("a", "=", "1"), Matcher("b", "=", "2"), Matcher("c", "=~", "x.*")),
        ),
        # `matchers` as one string, then `match`.
        (
            {"matchers": 'a="1"', "match": {"b": "2"}},
            (Matcher("a", "=", "1"), Matcher("b", "=", "2")),
        ),
        # Only `match_re`.
        ({"match_re": {"c": "x"}}, (Matcher("c", "=~", "x"),)),
        # An empty `match` adds nothing.
        ({"match": None, "matchers": ['a="1"']}, (Matcher("a", "=", "1"),)),
        # Without either, `matchers` is read as it is.
        ({"matchers": ['a="1"']}, (Matcher("a", "=", "1"),)),
    ],
)
def test_older_matchers(route: dict[str, Any], matchers: tuple[Matcher, ...]) -> None:
    assert RouteConfig.model_validate(route).matchers == matchers
