"""The console's counts over the failures table, on SQLite and on PostgreSQL: buckets
cut at the right edges, tops in order, samples of the newest error text."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from receiver.intake.pipeline import process_webhook
from receiver.model import Failure
from receiver.store import Store, open_store, reports
from receiver.store.tx import Tx
from tests.payloads import failed_insert, generation

pytestmark = pytest.mark.anyio


def failure(n: int, *, model: str, user: str, message: str) -> Failure:
    row = generation(id=f"g{n}", model_id=model, user_id=user)
    row["parameters"]["error"] = message
    context = row["parameters"]["errorContext"]
    context.update(message=message, timestamp=f"2024-05-01T12:{n:02d}:00Z")
    result = process_webhook(failed_insert(**row))
    assert isinstance(result, Failure)
    return result


@pytest.fixture
async def store(tmp_path: Path, state_url: str | None) -> AsyncIterator[Store]:
    opened = open_store(state_url or f"sqlite:///{tmp_path}/fw.db", pool_size=2)
    await opened.open()
    yield opened
    await opened.close()


async def test_folded_counts_per_bucket_within_the_window(store: Store) -> None:
    arrivals = [
        (1199.9, "flux-pro"),  # bucket 900: before the window
        (1200.0, "flux-pro"),  # first moment of bucket 1200
        (1499.9, "flux-pro"),  # last moment of bucket 1200
        (1500.0, "sdxl"),  # bucket 1500 starts
        (1800.0, "sdxl"),  # bucket 1800: at `until`, outside
    ]
    for n, (at, model) in enumerate(arrivals):
        stored = failure(n, model=model, user="u", message="boom")
        await store.record_failure(stored, received_at=at)
    assert await store.write(reports.fold) == len(arrivals)
    assert await store.write(reports.fold) == 0  # nothing new: nothing counted twice
    counts = await store.read(
        lambda tx: reports.per_bucket(tx, "model_id", since=1200.0, until=1800.0, step=300.0)
    )
    assert sorted((c.bucket, c.key, c.count) for c in counts) == [
        (1200.0, "flux-pro", 2),  # 1200 <= 1299.9 < 1500 (5-minute buckets)
        (1500.0, "sdxl", 1),
    ]


async def test_tops_are_most_first_with_the_newest_sample_text(store: Store) -> None:
    rows = [
        ("flux-pro", "alice", "Request 1 timed out after 30012ms"),
        ("flux-pro", "alice", "Request 2 timed out after 29950ms"),
        ("flux-pro", "bob", "content policy violation"),
        ("sdxl", "bob", "Request 3 timed out after 31000ms"),
    ]
    for n, (model, user, message) in enumerate(rows):
        await store.record_failure(
            failure(n, model=model, user=user, message=message), received_at=100.0 + n
        )

    await store.write(reports.fold)

    def read(
        tx: Tx,
    ) -> tuple[list[reports.KeyCount], list[reports.KeyCount], list[reports.ErrorCount]]:
        return (
            reports.top(tx, "model_id", since=0.0, limit=10),
            reports.top(tx, "user_id", since=0.0, limit=1),
            reports.top_errors(tx, since=0.0, limit=10),
        )

    models, users, errors = await store.read(read)
    assert [(k.key, k.count) for k in models] == [("flux-pro", 3), ("sdxl", 1)]
    # Ties are broken by key, so the answer is the same on every store.
    assert [(k.key, k.count) for k in users] == [("alice", 2)]
    first = errors[0]
    assert (first.count, first.model_id, first.message) == (2, "flux-pro", rows[1][2])
    assert sum(e.count for e in errors) == 4


async def test_a_fold_takes_a_large_backlog_in_batches(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports, "FOLD_BATCH", 2)
    for n in range(5):
        await store.record_failure(failure(n, model="m", user="u", message="x"), received_at=60.0)
    folds = [await store.write(reports.fold) for _ in range(4)]
    tops = await store.read(lambda tx: reports.top(tx, "model_id", since=0.0, limit=5))
    assert folds == [2, 2, 1, 0]
    assert [(t.key, t.count) for t in tops] == [("m", 5)]
