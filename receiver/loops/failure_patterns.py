"""The guide's time patterns from failwatch's own store: failures per bucket over a
window, stacked by category or model, and the top models, errors and users of the same
window. The console's /failures page draws this; it needs no source database.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from receiver.store import Store, reports
from receiver.store.reports import ErrorCount, KeyCount
from receiver.store.tx import Tx


class Window(StrEnum):
    DAY = "24h"
    WEEK = "7d"


class Step(StrEnum):
    FIVE_MINUTES = "5m"
    HOUR = "1h"


class StackBy(StrEnum):
    CATEGORY = "category"
    MODEL = "model_id"


WINDOWS: dict[Window, float] = {Window.DAY: 86400.0, Window.WEEK: 7 * 86400.0}
STEPS: dict[Step, float] = {Step.FIVE_MINUTES: 300.0, Step.HOUR: 3600.0}
# A chart with more stacks than this is unreadable: the rest are summed as "other".
MAX_SERIES = 8
TOP = 10
DAY = 86400.0
OTHER = "other"
NONE = "(none)"


@dataclass(frozen=True, slots=True)
class Patterns:
    window: Window
    step: Step
    by: StackBy
    # Start of each bucket (epoch seconds), oldest first.
    buckets: tuple[float, ...]
    # One count per bucket for each key, largest total first ("other" last).
    series: tuple[tuple[str, tuple[int, ...]], ...]
    total: int
    top_models: tuple[KeyCount, ...]
    # Users and errors are counted per UTC day, over the last day whatever the window
    # (a week of users is as many rows as failures): theirs start at the start of the UTC
    # day that holds `now - 24 h`.
    tops_since: float
    top_users: tuple[KeyCount, ...]
    top_errors: tuple[ErrorCount, ...]


async def catch_up(store: Store) -> None:
    """Fold every failure stored so far into the rollup the counts are read from."""
    while await store.write(reports.fold) >= reports.FOLD_BATCH:
        pass


async def failure_patterns(
    store: Store, *, window: Window, step: Step, by: StackBy, now: float
) -> Patterns:
    """Counts of the `window` that ends with the bucket holding `now`."""
    await catch_up(store)
    size = STEPS[step]
    n = int(WINDOWS[window] // size)
    since = (now // size) * size - (n - 1) * size

    tops_since = ((now - DAY) // DAY) * DAY

    def read(tx: Tx) -> Patterns:
        counts = reports.per_bucket(tx, by.value, since=since, until=since + n * size, step=size)
        return Patterns(
            window=window,
            step=step,
            by=by,
            buckets=tuple(since + i * size for i in range(n)),
            series=_stacks(counts, since=since, step=size, n=n),
            total=sum(c.count for c in counts),
            top_models=tuple(reports.top(tx, "model_id", since=since, limit=TOP)),
            tops_since=tops_since,
            top_users=tuple(reports.top(tx, "user_id", since=tops_since, limit=TOP)),
            top_errors=tuple(reports.top_errors(tx, since=tops_since, limit=TOP)),
        )

    return await store.read(read)


def _stacks(
    counts: list[reports.BucketCount], *, since: float, step: float, n: int
) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Per-key rows of `n` counts of `step` seconds from `since` (finer buckets are summed
    into the step that holds them); past `MAX_SERIES` keys the smallest are one "other"."""
    rows: dict[str, list[int]] = {}
    for c in counts:
        index = int((c.bucket - since) // step)
        if 0 <= index < n:
            rows.setdefault(c.key or NONE, [0] * n)[index] += c.count
    ranked = sorted(rows.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    kept = ranked[:MAX_SERIES] if len(ranked) <= MAX_SERIES else ranked[: MAX_SERIES - 1]
    rest = ranked[len(kept) :]
    stacks = [(key, tuple(values)) for key, values in kept]
    if rest:
        stacks.append((OTHER, tuple(sum(v[i] for _, v in rest) for i in range(n))))
    return tuple(stacks)


SPARK_HOURS = 24


async def sparklines(store: Store, *, now: float) -> dict[tuple[str, str], tuple[int, ...]]:
    """Failures per hour over the last 24 h for each (category, model_id) (model '' when
    none): the line drawn beside each incident of that category and model."""
    await catch_up(store)
    size = 3600.0
    since = (now // size) * size - (SPARK_HOURS - 1) * size
    counts = await store.read(
        lambda tx: reports.per_bucket(
            tx, "category_model", since=since, until=since + SPARK_HOURS * size, step=size
        )
    )
    lines: dict[tuple[str, str], list[int]] = {}
    for c in counts:
        category, _, model = c.key.partition(":")
        lines.setdefault((category, model), [0] * SPARK_HOURS)[int((c.bucket - since) // size)] += (
            c.count
        )
    return {key: tuple(values) for key, values in lines.items()}
