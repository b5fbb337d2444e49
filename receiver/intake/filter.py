"""Filter: decides whether a webhook call reports a generation that *became* failed.

A failure is an INSERT whose status is `failed`, or an UPDATE whose new status is `failed`
and whose old status is not (or whose old row was not sent, as in trimmed payloads).
Everything else — other tables, DELETEs, other statuses, updates of rows that were
already failed — is acknowledged with a reason, so a misconfigured webhook shows up in
logs and metrics instead of silently doing nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from receiver.errors import InvalidPayload
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
        return Ignored("already_failed")
    return record


def _old_status(old_record: Mapping[str, Any] | None) -> object:
    return None if old_record is None else old_record.get("status")
