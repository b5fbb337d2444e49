"""The guide's time patterns from failwatch's own store: failures per bucket over a
window, stacked by category or model, and the top models, errors and users of the same
window. The console's /failures page draws this; it needs no source database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from receiver.store import Store, reports
from receiver.store.reports import ErrorCount, KeyCount
from receiver.store.tx import Tx

Window = Literal["24h", "7d"]
Step = Literal["5m", "1h"]
StackBy = Literal["category", "model_id"]

WINDOWS: dict[Window, float] = {"24h": 86400.0, "7d": 7 * 86400.0}
STEPS: dict[Step, float] = {"5m": 300.0, "1h": 3600.0}
# A chart with more stacks than this is unreadable: the rest are summed as "other".
MAX_SERIES = 8
TOP = 10
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
    top_users: tuple[KeyCount, ...]
    top_errors: tuple[ErrorCount, ...]


async def failure_patterns(
    store: Store, *, window: Window, step: Step, by: StackBy, now: float
) -> Patterns:
    """Counts of the `window` that ends with the bucket holding `now`."""
    size = STEPS[step]
    n = int(WINDOWS[window] // size)
    since = (now // size) * size - (n - 1) * size

    def read(tx: Tx) -> Patterns:
        counts = reports.per_bucket(tx, by=by, since=since, until=since + n * size, step=size)
        return Patterns(
            window=window,
            step=step,
            by=by,
            buckets=tuple(since + i * size for i in range(n)),
            series=_stacks(counts, n),
            total=sum(c.count for c in counts),
            top_models=tuple(reports.top(tx, by="model_id", since=since, limit=TOP)),
            top_users=tuple(reports.top(tx, by="user_id", since=since, limit=TOP)),
            top_errors=tuple(reports.top_errors(tx, since=since, limit=TOP)),
        )

    return await store.read(read)


def _stacks(counts: list[reports.BucketCount], n: int) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Per-key rows of `n` counts; past `MAX_SERIES` keys the smallest are one "other"."""
    rows: dict[str, list[int]] = {}
    for c in counts:
        if 0 <= c.index < n:
            rows.setdefault(c.key if c.key is not None else NONE, [0] * n)[c.index] += c.count
    ranked = sorted(rows.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    kept = ranked[:MAX_SERIES] if len(ranked) <= MAX_SERIES else ranked[: MAX_SERIES - 1]
    rest = ranked[len(kept) :]
    stacks = [(key, tuple(values)) for key, values in kept]
    if rest:
        stacks.append((OTHER, tuple(sum(v[i] for _, v in rest) for i in range(n))))
    return tuple(stacks)


SPARK_HOURS = 24


async def sparklines(store: Store, *, now: float) -> dict[tuple[str, str | None], tuple[int, ...]]:
    """Failures per hour over the last 24 h for each (category, model_id): the line drawn
    beside each incident of that category and model."""
    size = 3600.0
    since = (now // size) * size - (SPARK_HOURS - 1) * size
    found = await store.read(
        lambda tx: reports.per_bucket_by_group(
            tx, since=since, until=since + SPARK_HOURS * size, step=size
        )
    )
    return {
        key: tuple(buckets.get(i, 0) for i in range(SPARK_HOURS)) for key, buckets in found.items()
    }
