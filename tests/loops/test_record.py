"""One failure is stored once, however it is reported: by its webhook and later by the
sweep (either order), or by an UPDATE that sets status='failed' followed by another that
writes parameters.error — one row, counted once, its details filled in by the later report.
Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from receiver.intake.pipeline import failure_from_row, process_webhook
from receiver.loops.record import record_failure
from receiver.model import Failure, FailureKind, Ignored, Source
from receiver.store import open_store
from receiver.store.base import Store
from tests.payloads import generation, supabase_body

pytestmark = pytest.mark.anyio

ERROR = {
    "width": 1024,
    "error": "Error code: 429 - {'error': {'code': 'insufficient_quota'}}",
    "errorContext": {"type": "RateLimitError", "timestamp": "2024-05-01T12:00:31.012Z"},
}
NO_ERROR = {"width": 1024}


@pytest.fixture
async def store(tmp_path: Path, state_url: str | None) -> AsyncIterator[Store]:
    opened = open_store(state_url or f"sqlite:///{tmp_path / 'fw.db'}", pool_size=2)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


def row(parameters: Mapping[str, Any], status: str = "failed") -> dict[str, Any]:
    return generation(status=status, parameters=dict(parameters))


def by_webhook(new: dict[str, Any], old: dict[str, Any]) -> Failure:
    failure = process_webhook(supabase_body("UPDATE", new, old))
    assert isinstance(failure, Failure), failure
    return failure


def by_sweep(record: dict[str, Any]) -> Failure:
    return failure_from_row(record, kind=FailureKind.FAILED, source=Source.SWEEP)


async def record(store: Store, failure: Failure) -> bool:
    return await store.write(lambda tx: record_failure(tx, failure, 1.0))


async def stored(store: Store) -> list[tuple[Any, ...]]:
    return await store.read(
        lambda tx: tx.fetchall(
            "SELECT generation_id, category, message, error_type, occurred_at, source"
            " FROM failures ORDER BY seq"
        )
    )


FILLED = (
    "5b0f4f8e-2a7c-4d3e-9a61-0c8f3e2d1b7a",
    "quota",
    ERROR["error"],
    "RateLimitError",
    "2024-05-01T12:00:31.012Z",
)


async def test_failed_first_then_the_error_is_one_failure_filled_in(store: Store) -> None:
    processing = row(NO_ERROR, status="processing")
    failed = row(NO_ERROR)
    assert await record(store, by_webhook(failed, processing)) is True
    # The second UPDATE (failed → failed) writes the error: let through, folded in.
    assert await record(store, by_webhook(row(ERROR), failed)) is False
    assert [r[:5] for r in await stored(store)] == [FILLED]


async def test_the_error_first_then_failed_is_one_failure(store: Store) -> None:
    # The worker writes the error while the row is still processing, then fails it.
    with_error = row(ERROR, status="processing")
    ignored = process_webhook(supabase_body("UPDATE", with_error, row(NO_ERROR, "processing")))
    assert ignored == Ignored("not_failed")
    assert await record(store, by_webhook(row(ERROR), with_error)) is True
    assert [r[:5] for r in await stored(store)] == [FILLED]


async def test_webhook_then_sweep_is_one_failure_the_sweep_filling_it_in(store: Store) -> None:
    assert await record(store, by_webhook(row(NO_ERROR), row(NO_ERROR, "processing"))) is True
    # The sweep reads the row after the error was written.
    assert await record(store, by_sweep(row(ERROR))) is False
    assert [r[:5] for r in await stored(store)] == [FILLED]
    assert (await stored(store))[0][5] == "webhook"


async def test_sweep_then_webhook_is_one_failure(store: Store) -> None:
    assert await record(store, by_sweep(row(ERROR))) is True
    # The webhook arrives late (after a restart), without the error written yet.
    assert await record(store, by_webhook(row(NO_ERROR), row(NO_ERROR, "processing"))) is False
    assert [r[:5] for r in await stored(store)] == [FILLED]
    assert (await stored(store))[0][5] == "sweep"


async def test_the_same_report_twice_is_a_duplicate(store: Store) -> None:
    failure = by_sweep(row(ERROR))
    assert await record(store, failure) is True
    assert await record(store, failure) is False
    assert len(await stored(store)) == 1


async def test_a_generation_that_fails_again_later_is_a_second_failure(store: Store) -> None:
    assert await record(store, by_sweep(row(ERROR))) is True
    again = dict(ERROR, errorContext={"type": "RateLimitError", "timestamp": "2024-05-01T13:00Z"})
    assert await record(store, by_sweep(row(again))) is True
    assert len(await stored(store)) == 2
