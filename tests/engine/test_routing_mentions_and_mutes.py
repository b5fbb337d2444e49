"""engine.routing: who a route pings and which time intervals mute it, as the tree
resolves them, and the problems a tree of them can have."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from receiver.engine.routing import Route, RouteConfig, Timing, build_routes
from receiver.engine.timeintervals import NOT_MUTED, NamedTimeInterval

T = Timing(
    group_wait=30, group_interval=300, repeat_interval=3600, resolve_after=600, send_resolved=True
)
WEEKEND = NamedTimeInterval.model_validate(
    {"name": "weekend", "time_intervals": [{"weekdays": ["saturday", "sunday"]}]}
)
OFFICE = NamedTimeInterval.model_validate(
    {
        "name": "office",
        "time_intervals": [{"times": [{"start_time": "09:00", "end_time": "17:00"}]}],
    }
)
# Each receiver with its own `mention`.
RECEIVERS = {"oncall": ("U0ONCALL",), "ml": (), "email-only": ()}


def resolve(tree: dict[str, Any]) -> tuple[Route, list[str]]:
    return build_routes(
        RouteConfig.model_validate(tree),
        defaults=T,
        receivers=RECEIVERS,
        time_intervals=[WEEKEND, OFFICE],
    )


def child(tree: dict[str, Any], *path: int) -> Route:
    route, problems = resolve(tree)
    assert problems == []
    for i in path:
        route = route.children[i]
    return route


MENTIONS = [
    # No mention anywhere: the receiver's own.
    ({"receiver": "oncall"}, (), ("U0ONCALL",)),
    # A route's mention wins over its receiver's.
    ({"receiver": "oncall", "mention": "here"}, (), ("here",)),
    # Children inherit their parent's mention, like the timings ...
    (
        {"receiver": "ml", "mention": ["channel"], "routes": [{"matchers": ["a=b"]}]},
        (0,),
        ("channel",),
    ),
    # ... even with a receiver of their own ...
    (
        {"receiver": "ml", "mention": "here", "routes": [{"receiver": "oncall"}]},
        (0,),
        ("here",),
    ),
    # ... an empty list turns an inherited mention off ...
    (
        {"receiver": "ml", "mention": "here", "routes": [{"receiver": "ml", "mention": []}]},
        (0,),
        (),
    ),
    # ... and without any route's mention, a child takes its own receiver's.
    ({"receiver": "ml", "routes": [{"receiver": "oncall"}]}, (0,), ("U0ONCALL",)),
]


@pytest.mark.parametrize(("tree", "path", "expected"), MENTIONS)
def test_mention(tree: dict[str, Any], path: tuple[int, ...], expected: tuple[str, ...]) -> None:
    assert child(tree, *path).mention == expected


@pytest.mark.parametrize(
    ("mention", "error"),
    [
        # Slack's keywords are written without the @ ...
        ("@here", "'@here' is not a mention"),
        # ... `everyone` is not offered (it pings the whole workspace) ...
        ("everyone", "'everyone' is not a mention"),
        # ... ids are Slack's: upper case letters and digits after U, W or S ...
        ("u0123abc", "is not a mention"),
        ("<!channel>", "is not a mention"),
        ("T0TEAM", "is not a mention"),
        # ... and a handful at most.
        ([f"U00000{i:02d}" for i in range(11)], "at most 10 items"),
    ],
)
def test_bad_mentions_are_refused(mention: object, error: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RouteConfig.model_validate({"receiver": "oncall", "mention": mention})
    assert error in str(caught.value)


def test_time_intervals_are_resolved_by_name_and_not_inherited() -> None:
    tree = {
        "receiver": "ml",
        "routes": [
            {
                "receiver": "email-only",
                "mute_time_intervals": ["weekend"],
                "active_time_intervals": ["office"],
                "routes": [{"matchers": ["category=quota"]}],
            }
        ],
    }
    muted = child(tree, 0)
    assert muted.mute_time_intervals == (WEEKEND,)
    assert muted.active_time_intervals == (OFFICE,)
    # As in Alertmanager, a child names its own intervals.
    grandchild = child(tree, 0, 0)
    assert grandchild.mute_time_intervals == grandchild.active_time_intervals == ()


# Saturday 5 December 2026 12:00 UTC, and the Monday after at 12:00 and at 20:00.
SATURDAY_NOON, MONDAY_NOON, MONDAY_EVENING = 1796472000.0, 1796644800.0, 1796673600.0


@pytest.mark.parametrize(
    ("intervals", "instant", "muted", "changes_at"),
    [
        # No intervals: never muted.
        ({}, SATURDAY_NOON, False, None),
        # Inside a mute interval: muted until it ends (Monday 00:00), then until Saturday.
        ({"mute_time_intervals": ["weekend"]}, SATURDAY_NOON, True, 1796601600.0),
        ({"mute_time_intervals": ["weekend"]}, MONDAY_NOON, False, 1797033600.0),
        # Outside its active interval: muted until it starts again (Tuesday 09:00).
        ({"active_time_intervals": ["office"]}, MONDAY_NOON, False, 1796662800.0),
        ({"active_time_intervals": ["office"]}, MONDAY_EVENING, True, 1796720400.0),
    ],
)
def test_a_route_is_muted_by_its_own_intervals(
    intervals: dict[str, list[str]], instant: float, muted: bool, changes_at: float | None
) -> None:
    route = child({"receiver": "ml", "routes": [{"receiver": "oncall", **intervals}]}, 0)
    state = route.mute_state(instant)
    assert (state.muted, state.changes_at) == (muted, changes_at)
    if not intervals:
        assert state == NOT_MUTED


def test_with_no_time_intervals_defined_the_problem_says_none() -> None:
    _, problems = build_routes(
        RouteConfig.model_validate({"receiver": "ml", "routes": [{"mute_time_intervals": ["x"]}]}),
        defaults=T,
        receivers=RECEIVERS,
        time_intervals=[],
    )
    assert problems == [
        "route.routes[0].mute_time_intervals: 'x' is not a defined time interval (none)"
    ]


PROBLEMS = [
    # An interval no `time_intervals:` entry defines.
    (
        {"receiver": "ml", "routes": [{"mute_time_intervals": ["weekends"]}]},
        "route.routes[0].mute_time_intervals: 'weekends' is not a defined time interval "
        "(office, weekend)",
    ),
    (
        {"receiver": "ml", "routes": [{"active_time_intervals": ["nights"]}]},
        "route.routes[0].active_time_intervals: 'nights' is not a defined time interval",
    ),
    # The root is never muted (Alertmanager refuses it too).
    (
        {"receiver": "ml", "mute_time_intervals": ["weekend"]},
        "route.mute_time_intervals: the root route is never muted; set it on a child",
    ),
    (
        {"receiver": "ml", "active_time_intervals": ["office"]},
        "route.active_time_intervals: the root route is never muted; set it on a child",
    ),
]


@pytest.mark.parametrize(("tree", "problem"), PROBLEMS)
def test_problems(tree: dict[str, Any], problem: str) -> None:
    _, problems = resolve(tree)
    assert any(problem in p for p in problems), problems
