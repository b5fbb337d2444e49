"""The /failures page's data: buckets aligned to the step, stacks capped at a readable
number, and the silence editor's preview, against a real store."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiver.engine.matchers import Matcher
from receiver.loops import failure_patterns, silences
from receiver.loops.failure_patterns import MAX_SERIES, OTHER, StackBy, Step, Window, _stacks
from receiver.store import open_store
from receiver.store.reports import BucketCount
from tests.store.test_reports import failure

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # nothing counted: no stacks at all
        ([], ()),
        # one key over two steps, in time order
        ([BucketCount(3600, "quota", 2), BucketCount(0, "quota", 1)], (("quota", (1, 2)),)),
        # 5-minute buckets are summed into the hour that holds them
        ([BucketCount(0, "a", 1), BucketCount(3300, "a", 2)], (("a", (3, 0)),)),
        # largest total first; a missing key (no model) is named
        (
            [BucketCount(0, "a", 1), BucketCount(3600, "", 5)],
            (("(none)", (0, 5)), ("a", (1, 0))),
        ),
        # a bucket outside the window (a clock step) is dropped, not an IndexError
        ([BucketCount(7200, "a", 1), BucketCount(-300, "a", 1)], ()),
    ],
)
def test_stacks(counts: list[BucketCount], expected: tuple[object, ...]) -> None:
    stacks = _stacks(counts, since=0.0, step=3600.0, n=2)
    assert stacks == expected


def test_more_keys_than_a_chart_can_show_become_other() -> None:
    counts = [BucketCount(0, f"m{i:02d}", 100 - i) for i in range(MAX_SERIES + 3)]
    stacks = _stacks(counts, since=0.0, step=300.0, n=1)
    assert len(stacks) == MAX_SERIES
    assert stacks[-1][0] == OTHER
    # nothing is lost: the stacks still sum to every failure counted
    assert sum(v[0] for _, v in stacks) == sum(c.count for c in counts)


async def test_patterns_and_preview_on_a_store(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/fw.db")
    await store.open()
    now = 10 * 86400.0 + 150.0  # mid-bucket
    try:
        for n in range(6):
            model = "flux-pro" if n < 4 else "sdxl"
            await store.record_failure(
                failure(n, model=model, user="u", message="boom"), received_at=now - n * 300
            )
        # older than a day: in 7 d, not in 24 h nor in the preview
        await store.record_failure(
            failure(9, model="flux-pro", user="u", message="boom"), received_at=now - 2 * 86400
        )
        day = await failure_patterns.failure_patterns(
            store, window=Window.DAY, step=Step.FIVE_MINUTES, by=StackBy.MODEL, now=now
        )
        week = await failure_patterns.failure_patterns(
            store, window=Window.WEEK, step=Step.HOUR, by=StackBy.MODEL, now=now
        )
        preview = await silences.preview(store, (Matcher.parse("model_id=flux-pro"),), now=now)
    finally:
        await store.close()
    assert len(day.buckets) == 288
    assert day.buckets[-1] == now - 150.0
    assert dict(day.series)["flux-pro"][-4:] == (1, 1, 1, 1)
    assert (day.total, week.total) == (6, 7)
    assert [(k.key, k.count) for k in week.top_models] == [("flux-pro", 5), ("sdxl", 2)]
    assert (preview.open_groups, preview.failures_24h, preview.truncated) == (0, 4, False)
