"""Filter: decides whether a webhook call reports a generation that *became* failed.

A failure is an INSERT whose status is `failed`, or an UPDATE whose new status is `failed`
and whose old status is not (or whose old row was not sent, as in trimmed payloads). An
UPDATE of a row already failed that writes its error for the first time is let through
too: it is the failure's details, reported late, and the store folds it into the failure
reported first (`loops/record.py`). Everything else — other tables, DELETEs, other
statuses, other updates of rows that were already failed — is acknowledged with a
reason, so a misconfigured webhook shows up in logs and metrics instead of silently
doing nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from receiver.errors import InvalidPayload
from receiver.intake.ingest import error_details
from receiver.model import Ignored, Operation, WebhookEvent

FAILED = "failed"


def became_failed(event: WebhookEvent, *, schema: str, table: str) -> Ignored | Mapping[str, Any]:
    """The new row when the event is a transition into `failed`, else why it is ignored."""
    if event.table != table or event.schema != schema:
        return Ignored("other_table")
    if event.operation is Operation.DELETE:
        return Ignored("delete")
    record = event.record
    assert record is not None  # ingest guarantees a row for INSERT and UPDATE
    status = record.get("status")
    if not isinstance(status, str):
        raise InvalidPayload("record.status", "missing; expected a string")
    if status != FAILED:
        return Ignored("not_failed")
    if event.operation is Operation.UPDATE and _old_status(event.old_record) == FAILED:
        if _writes_the_error(event.old_record, record):
            return record
        return Ignored("already_failed")
    return record


def _writes_the_error(old_record: Mapping[str, Any] | None, record: Mapping[str, Any]) -> bool:
    return (
        old_record is not None
        and not error_details(old_record).message
        and bool(error_details(record).message)
    )


def _old_status(old_record: Mapping[str, Any] | None) -> object:
    return None if old_record is None else old_record.get("status")
