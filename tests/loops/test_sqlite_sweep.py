"""The sweep's state on a real store: lease, cursors, open stuck generations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from receiver.loops.sweep_state import StoreSweepState
from receiver.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[StoreSweepState]:
    opened = SQLiteStore(str(tmp_path / "fw.db"))
    await opened.open()
    yield StoreSweepState(opened)
    await opened.close()


@pytest.mark.parametrize(
    ("holder", "now", "expected", "why"),
    [
        ("a", 1050.0, True, "the holder renews before expiry"),
        ("b", 1050.0, False, "another holder waits while the lease runs"),
        ("b", 1099.9, False, "still running just before expiry"),
        ("b", 1100.0, True, "expired at expires_at exactly"),
        ("b", 5000.0, True, "long expired"),
    ],
)
async def test_the_lease_goes_to_one_holder_at_a_time(
    store: StoreSweepState, holder: str, now: float, expected: bool, why: str
) -> None:
    assert await store.acquire_lease("sweep", "a", ttl=100.0, now=1000.0) is True
    assert await store.acquire_lease("sweep", holder, ttl=100.0, now=now) is expected, why
    assert await store.acquire_lease("other", "b", ttl=100.0, now=1000.0) is True


async def test_a_taken_over_lease_belongs_to_the_new_holder(store: StoreSweepState) -> None:
    assert await store.acquire_lease("sweep", "a", ttl=10.0, now=0.0)
    assert await store.acquire_lease("sweep", "b", ttl=10.0, now=20.0)
    assert not await store.acquire_lease("sweep", "a", ttl=10.0, now=21.0)


async def test_cursors_start_empty_and_keep_the_last_value(store: StoreSweepState) -> None:
    assert await store.get_cursor("c") is None
    await store.set_cursor("c", 12.5)
    await store.set_cursor("c", 99.25)
    assert await store.get_cursor("c") == 99.25
    assert await store.get_cursor("d") is None


async def test_stuck_marks_are_idempotent_and_cleared_by_id(store: StoreSweepState) -> None:
    await store.mark_stuck(["g2", "g1"], now=10.0)
    await store.mark_stuck(["g1", "g3"], now=20.0)  # g1 keeps its first time
    assert await store.open_stuck_generations() == ["g1", "g2", "g3"]
    await store.clear_stuck(["g1", "unknown"], now=30.0)
    assert await store.open_stuck_generations() == ["g2", "g3"]
