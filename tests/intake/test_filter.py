from __future__ import annotations

from typing import Any

import pytest

from receiver.errors import InvalidPayload
from receiver.intake.filter import became_failed
from receiver.model import Ignored, Operation, WebhookEvent

FAILED: dict[str, Any] = {"id": "g1", "status": "failed"}
PROCESSING: dict[str, Any] = {"id": "g1", "status": "processing"}
COMPLETED: dict[str, Any] = {"id": "g1", "status": "completed"}
FAILED_WITH_ERROR: dict[str, Any] = {
    "id": "g1",
    "status": "failed",
    "parameters": {"error": "Rate limit exceeded", "errorContext": {"type": "RateLimitError"}},
}


def event(
    operation: Operation,
    record: dict[str, Any] | None,
    old_record: dict[str, Any] | None = None,
    *,
    table: str = "generations",
    schema: str = "public",
) -> WebhookEvent:
    return WebhookEvent(operation, schema, table, record, old_record)


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        # A row created failed (e.g. rejected before any work started).
        pytest.param(event(Operation.INSERT, FAILED), "failure", id="insert-failed"),
        # A row created queued: nothing happened yet.
        pytest.param(event(Operation.INSERT, PROCESSING), "not_failed", id="insert-processing"),
        # The usual path: a worker marks its generation failed.
        pytest.param(
            event(Operation.UPDATE, FAILED, PROCESSING), "failure", id="processing-to-failed"
        ),
        # Straight from queued to failed counts the same.
        pytest.param(
            event(Operation.UPDATE, FAILED, {"id": "g1", "status": "queued"}),
            "failure",
            id="queued-to-failed",
        ),
        # Touching a failed row again (e.g. updated_at) is not a new failure.
        pytest.param(
            event(Operation.UPDATE, FAILED, FAILED), "already_failed", id="failed-to-failed"
        ),
        # A failed row whose error is written by a second UPDATE: the failure's details,
        # reported late (the store folds them into the failure reported first).
        pytest.param(
            event(Operation.UPDATE, FAILED_WITH_ERROR, FAILED), "failure", id="error-written-late"
        ),
        # ... but an UPDATE of a row that had its error already is not news.
        pytest.param(
            event(Operation.UPDATE, FAILED_WITH_ERROR, FAILED_WITH_ERROR),
            "already_failed",
            id="error-known",
        ),
        # Nor is one that leaves a failed row without an error.
        pytest.param(
            event(Operation.UPDATE, FAILED, {**FAILED, "parameters": "{}"}),
            "already_failed",
            id="still-no-error",
        ),
        # No old row sent (a trimmed trigger): trust the new status.
        pytest.param(event(Operation.UPDATE, FAILED, None), "failure", id="old-record-null"),
        # An old row without its status column (trimmed) is treated like no old row.
        pytest.param(
            event(Operation.UPDATE, FAILED, {"id": "g1"}), "failure", id="old-without-status"
        ),
        # A retry that succeeded.
        pytest.param(
            event(Operation.UPDATE, COMPLETED, FAILED), "not_failed", id="failed-to-completed"
        ),
        # Progress that is not a failure.
        pytest.param(
            event(Operation.UPDATE, COMPLETED, PROCESSING), "not_failed", id="to-completed"
        ),
        # Statuses are compared exactly, as the guide's `status = 'failed'` does.
        pytest.param(
            event(Operation.INSERT, {"id": "g1", "status": "FAILED"}), "not_failed", id="case"
        ),
        # Deleting a failed row is housekeeping, not a failure.
        pytest.param(event(Operation.DELETE, None, FAILED), "delete", id="delete"),
        # Another table of the same project.
        pytest.param(
            event(Operation.INSERT, FAILED, table="profiles"), "other_table", id="other-table"
        ),
        # The same table name in another schema.
        pytest.param(
            event(Operation.INSERT, FAILED, schema="archive"), "other_table", id="other-schema"
        ),
        # Another table is ignored before its columns are looked at.
        pytest.param(
            event(Operation.INSERT, {"id": 1}, table="profiles"),
            "other_table",
            id="other-no-status",
        ),
    ],
)
def test_transitions(change: WebhookEvent, outcome: str) -> None:
    result = became_failed(change, schema="public", table="generations")
    if outcome == "failure":
        assert result is change.record
    else:
        assert result == Ignored(outcome)


@pytest.mark.parametrize(
    "record",
    [
        # The column is missing.
        pytest.param({"id": "g1"}, id="missing"),
        # The column is null.
        pytest.param({"id": "g1", "status": None}, id="null"),
        # The column is not text.
        pytest.param({"id": "g1", "status": 3}, id="number"),
    ],
)
def test_a_generations_row_without_a_text_status_is_invalid(record: dict[str, Any]) -> None:
    with pytest.raises(InvalidPayload) as caught:
        became_failed(event(Operation.UPDATE, record), schema="public", table="generations")
    assert caught.value.field == "record.status"


def test_the_watched_table_is_configurable() -> None:
    change = event(Operation.INSERT, FAILED, table="jobs", schema="app")
    assert became_failed(change, schema="app", table="jobs") is change.record
    assert became_failed(change, schema="public", table="jobs") == Ignored("other_table")
