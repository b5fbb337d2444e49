"""Storm control: a flood of distinct failures is a few messages, and a new incident is
never stuck behind it.

Three decisions, each a pure function with the clock passed in:

- **fold**: a route holds at most `max_groups` open groups per category. A failure
  whose group is not open while that many are goes into the route's *overflow group*
  for the category instead ("37 more models failing: flux-a, flux-b, … and 34 others"),
  which notifies and updates like any group. The cap counts per category so that a
  flood of one kind of failure never swallows the first failure of another kind: that
  one still opens its own group and its own first message.
- **budget**: a receiver gets at most `max_notifications` updates (new failures, new
  errors, repeats, resolutions) per `notification_period`. A new incident's first
  message is never held: the fold already bounds how many there are. Updates beyond the
  budget are held back, merged per group, and listed in one digest when the period ends.
- **delivery order**: first messages of new incidents are claimed before everything
  else, oldest first within each class (`priority`); and the delivery worker claims only
  what its rate-limit tokens allow, then sleeps until a token or a due row is back
  (`sleep_for`), so a backlog under the rate limit costs next to no CPU.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from receiver.engine.routing import Route
from receiver.model import Reason
from receiver.rows import Budget

# The label that marks an overflow group (its value names what it counts).
OVERFLOW_LABEL = "overflow"
# A new incident's first message; every other notification (updates, repeats,
# resolutions, digests) comes after it.
FIRST_PRIORITY = 0
LATER_PRIORITY = 1


def folds(*, group_open: bool, open_in_scope: int, max_groups: int) -> bool:
    """Whether a batch of failures goes to its route's overflow group rather than to
    its own group: only when its group is not open and the cap is reached. An open
    group keeps growing however many others there are."""
    return not group_open and open_in_scope >= max_groups


def overflow_key(route_id: str, receiver: str, category: str) -> str:
    """The overflow group of a route and category: stable across restarts and replicas,
    and never equal to a group key (another namespace in the digest)."""
    ident = json.dumps(["overflow", route_id, receiver, category], ensure_ascii=False)
    return hashlib.sha256(ident.encode("utf-8")).hexdigest()[:24]


def overflow_labels(route: Route, category: str) -> dict[str, str]:
    """An overflow group's labels: its category, and what it counts (`model` when the
    route groups by model, else `group`), as in "37 more models failing"."""
    noun = "model" if "model_id" in route.group_by else "group"
    return {"category": category, OVERFLOW_LABEL: noun}


def member_name(labels: Mapping[str, str]) -> str:
    """How an overflow group names a group it stands for: its model, else the values of
    its other group labels."""
    if labels.get("model_id"):
        return labels["model_id"]
    values = [value for name, value in sorted(labels.items()) if name != "category" and value]
    return " · ".join(values) or "(no labels)"


@dataclass(frozen=True, slots=True)
class BudgetLimit:
    """Each receiver's limit: `cap` updates per `period` seconds."""

    cap: int
    period: float


@dataclass(frozen=True, slots=True)
class Spend:
    allowed: bool  # send it now; otherwise hold it for the digest
    budget: Budget  # the budget to store afterwards


def spend(budget: Budget | None, *, now: float, cap: int, period: float) -> Spend:
    """Spend one notification of a receiver's budget, if there is one left. A window
    opens at the first notification after the previous one ended (fixed windows)."""
    if budget is None or now >= budget.window_start + period or now < budget.window_start:
        budget = Budget(window_start=now, used=0)
    if budget.used < cap:
        return Spend(allowed=True, budget=Budget(budget.window_start, budget.used + 1))
    return Spend(allowed=False, budget=budget)


def counts_against_budget(reason: Reason) -> bool:
    """Every notification but a new incident's first message (bounded by the fold)."""
    return reason is not Reason.FIRST


def digest_due(budget: Budget | None, *, period: float) -> float | None:
    """When the updates held back in a receiver's window go out as one digest."""
    return None if budget is None else budget.window_start + period


def priority(reason: Reason) -> int:
    return FIRST_PRIORITY if reason is Reason.FIRST else LATER_PRIORITY


def sleep_for(
    now: float,
    *,
    next_due: float | None,
    next_token: float | None,
    idle: float,
    floor: float,
) -> float:
    """How long the delivery worker sleeps when it claimed nothing: until the earliest
    of a row falling due and a token coming back for a destination that has rows
    waiting, but at least `floor` (a due row can be unclaimable for a moment while an
    earlier flush of its stream is in flight) and at most `idle` (other replicas add
    rows without waking this one)."""
    times = [t for t in (next_due, next_token) if t is not None]
    if not times:
        return idle
    return min(idle, max(floor, min(times) - now))
