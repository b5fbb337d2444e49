"""engine.storm: the fold, the notification budget and the delivery order, as tables."""

from __future__ import annotations

import pytest

from receiver.engine.ratelimit import next_token_at, pick_claims, tokens_at
from receiver.engine.routing import RouteConfig, Timing, build_routes
from receiver.engine.storm import (
    FIRST_PRIORITY,
    LATER_PRIORITY,
    BudgetLimit,
    Spend,
    counts_against_budget,
    digest_due,
    folds,
    member_name,
    overflow_key,
    overflow_labels,
    priority,
    sleep_for,
    spend,
)
from receiver.model import Reason
from receiver.rows import Budget

T = Timing(
    group_wait=30, group_interval=300, repeat_interval=14400, resolve_after=1800, send_resolved=True
)


@pytest.mark.parametrize(
    ("group_open", "open_in_scope", "max_groups", "expected"),
    [
        # below the cap a new group opens
        (False, 0, 50, False),
        (False, 49, 50, False),
        # at the cap a new group folds
        (False, 50, 50, True),
        # beyond it too (a lower cap after a restart with more open groups)
        (False, 80, 50, True),
        # an open group keeps growing, however many others there are
        (True, 50, 50, False),
        (True, 500, 50, False),
        # a cap of one: the second group folds
        (False, 1, 1, True),
    ],
)
def test_folds(group_open: bool, open_in_scope: int, max_groups: int, expected: bool) -> None:
    assert (
        folds(group_open=group_open, open_in_scope=open_in_scope, max_groups=max_groups) is expected
    )


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        # the model names it when the group has one
        ({"category": "unknown", "model_id": "flux-a"}, "flux-a"),
        # otherwise its other labels' values, in label order
        ({"category": "unknown", "user_id": "u1", "app": "web"}, "web · u1"),
        # the category alone is no name (all folded groups share it)
        ({"category": "unknown"}, "(no labels)"),
        # an empty model label does not name it
        ({"category": "unknown", "model_id": "", "app": "web"}, "web"),
        # the model alone names it, whatever other labels the group has
        ({"category": "unknown", "model_id": "flux-a", "app": "web"}, "flux-a"),
    ],
)
def test_member_name(labels: dict[str, str], expected: str) -> None:
    assert member_name(labels) == expected


def test_overflow_groups_are_one_per_route_receiver_and_category() -> None:
    keys = {
        overflow_key("route", "oncall", "unknown"),
        overflow_key("route", "oncall", "timeout"),
        overflow_key("route.routes[0]", "oncall", "unknown"),
        overflow_key("route", "ml", "unknown"),
    }
    assert len(keys) == 4
    # stable: the same inputs give the same key (across restarts and replicas)
    assert overflow_key("route", "oncall", "unknown") == overflow_key("route", "oncall", "unknown")


def test_overflow_keys_do_not_change_between_versions() -> None:
    # Stored overflow groups are found by key: a new digest would open a second one.
    assert overflow_key("route", "oncall", "unknown") == "35e0b0a4b5c5f685d927b48c"
    assert overflow_key("route", "équipe", "unknown") == "a08c6a5a2fb2bcafe013f0db"


def test_a_budget_limit_and_a_spend_are_values() -> None:
    with pytest.raises(AttributeError):
        BudgetLimit(cap=20, period=600.0).cap = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        Spend(True, Budget(0.0, 1)).allowed = False  # type: ignore[misc]


def test_overflow_labels_name_what_they_count() -> None:
    by_model, _ = build_routes(RouteConfig(receiver="r"), defaults=T, receivers=["r"])
    by_user, _ = build_routes(
        RouteConfig(receiver="r", group_by=("category", "user_id")), defaults=T, receivers=["r"]
    )
    assert overflow_labels(by_model, "unknown") == {"category": "unknown", "overflow": "model"}
    assert overflow_labels(by_user, "timeout") == {"category": "timeout", "overflow": "group"}


@pytest.mark.parametrize(
    ("budget", "now", "expected"),
    [
        # the first notification opens a window
        (None, 100.0, Spend(True, Budget(100.0, 1))),
        # within the window and under the cap: spend one
        (Budget(100.0, 1), 150.0, Spend(True, Budget(100.0, 2))),
        (Budget(100.0, 2), 699.0, Spend(True, Budget(100.0, 3))),
        # the cap reached within the window: hold it, the budget unchanged
        (Budget(100.0, 3), 150.0, Spend(False, Budget(100.0, 3))),
        (Budget(100.0, 3), 100.0, Spend(False, Budget(100.0, 3))),
        (Budget(100.0, 3), 699.9, Spend(False, Budget(100.0, 3))),
        # the window over: a new one opens at this notification
        (Budget(100.0, 3), 700.0, Spend(True, Budget(700.0, 1))),
        (Budget(100.0, 3), 5000.0, Spend(True, Budget(5000.0, 1))),
        # a clock that went backwards opens a new window rather than holding forever
        (Budget(100.0, 3), 50.0, Spend(True, Budget(50.0, 1))),
    ],
)
def test_spend(budget: Budget | None, now: float, expected: Spend) -> None:
    assert spend(budget, now=now, cap=3, period=600.0) == expected


@pytest.mark.parametrize(
    ("reason", "counts", "claimed"),
    [
        # a new incident's first message: never held, claimed first
        (Reason.FIRST, False, FIRST_PRIORITY),
        # every update counts against the budget and comes after
        (Reason.NEW_FAILURES, True, LATER_PRIORITY),
        (Reason.NEW_ERROR, True, LATER_PRIORITY),
        (Reason.REPEAT, True, LATER_PRIORITY),
        (Reason.RESOLVED, True, LATER_PRIORITY),
        # a digest is written outside the budget; it too waits for first messages
        (Reason.DIGEST, True, LATER_PRIORITY),
    ],
)
def test_budget_and_priority_by_reason(reason: Reason, counts: bool, claimed: int) -> None:
    assert counts_against_budget(reason) is counts
    assert priority(reason) == claimed
    assert FIRST_PRIORITY < LATER_PRIORITY


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        # no budget yet: nothing was ever held, nothing is due
        (None, None),
        # held-back updates go out when the window ends
        (Budget(100.0, 3), 700.0),
    ],
)
def test_digest_due(budget: Budget | None, expected: float | None) -> None:
    assert digest_due(budget, period=600.0) == expected


@pytest.mark.parametrize(
    ("next_due", "next_token", "expected"),
    [
        # nothing waiting: poll at the idle period (other replicas add rows)
        (None, None, 1.0),
        # a row falls due soon: sleep until then
        (100.4, None, 0.4),
        # a token comes back sooner than any row falls due: until the token
        (100.9, 100.3, 0.3),
        # far away: never longer than the idle poll
        (160.0, 130.0, 1.0),
        # due already (unclaimable for a moment): the floor, never a busy loop
        (99.0, None, 0.05),
        (None, 100.0, 0.05),
    ],
)
def test_sleep_for(next_due: float | None, next_token: float | None, expected: float) -> None:
    got = sleep_for(100.0, next_due=next_due, next_token=next_token, idle=1.0, floor=0.05)
    assert got == pytest.approx(expected)


@pytest.mark.parametrize(
    ("tokens", "elapsed", "now_tokens", "next_in"),
    [
        # a full bucket: a token now
        (3.0, 0.0, 3.0, 0.0),
        # an empty bucket a moment later: a quarter refilled, the token in 0.75 s
        (0.0, 0.25, 0.25, 0.75),
        # refill stops at the burst
        (0.0, 100.0, 3.0, 0.0),
        # a clock that went backwards refills nothing
        (0.5, -10.0, 0.5, 0.5),
    ],
)
def test_tokens_at_and_next_token(
    tokens: float, elapsed: float, now_tokens: float, next_in: float
) -> None:
    now = 100.0 + elapsed
    assert tokens_at(tokens, 100.0, now=now, rate=1.0, burst=3) == pytest.approx(now_tokens)
    assert next_token_at(tokens, 100.0, now=now, rate=1.0, burst=3) == pytest.approx(now + next_in)


@pytest.mark.parametrize(
    ("candidates", "allowance", "limit", "expected"),
    [
        # one token for a channel with a backlog: claim one row, not the batch
        ([(1, "c"), (2, "c"), (3, "c")], {"c": 1}, 32, [1]),
        # no token: claim nothing of it (but other destinations' rows still)
        ([(1, "c"), (2, "mail")], {"c": 0, "mail": 2}, 32, [2]),
        # a destination without a bucket yet has a full burst
        ([(1, "new"), (2, "new"), (3, "new"), (4, "new")], {}, 32, [1, 2, 3]),
        # the claim order is kept
        ([(5, "a"), (2, "b"), (9, "a")], {"a": 2, "b": 1}, 32, [5, 2, 9]),
        # never more than the limit in all
        ([(1, "a"), (2, "b"), (3, "c")], {"a": 1, "b": 1, "c": 1}, 2, [1, 2]),
    ],
)
def test_pick_claims(
    candidates: list[tuple[int, str]], allowance: dict[str, int], limit: int, expected: list[int]
) -> None:
    assert pick_claims(candidates, allowance, default=3, limit=limit) == expected


def test_max_groups_is_inherited_and_overridden() -> None:
    config = RouteConfig.model_validate(
        {
            "receiver": "r",
            "max_groups": 10,
            "routes": [
                {"matchers": ["category=timeout"], "max_groups": 3, "routes": [{"name": "deep"}]},
                {"matchers": ["category=unknown"]},
            ],
        }
    )
    root, problems = build_routes(config, defaults=T, receivers=["r"], max_groups=50)
    assert problems == []
    by_id = {route.id: route.max_groups for route in root.walk()}
    # the root's own setting beats the global default; children inherit it or override
    assert by_id == {"route": 10, "route.routes[0]": 3, "deep": 3, "route.routes[1]": 10}
    plain, _ = build_routes(RouteConfig(receiver="r"), defaults=T, receivers=["r"], max_groups=7)
    # without a route setting the global default applies
    assert plain.max_groups == 7


def test_max_groups_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_groups"):
        RouteConfig.model_validate({"receiver": "r", "max_groups": 0})
