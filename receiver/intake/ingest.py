"""Ingest: webhook bytes → `WebhookEvent`, and a record's error fields → `ErrorDetails`.

Strict about the envelope (a body that is not a Database Webhook payload is refused with
the name of the field), tolerant about the row: `parameters` may be a JSON object, a JSON
string (a `text` column) or null, `errorContext` may be missing, and unknown columns are
kept. Supabase sends no envelope `user_id`; the row's `user_id` is used instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from receiver.errors import InvalidPayload, NotJSONError
from receiver.model import ErrorDetails, Operation, WebhookEvent

_OPERATIONS = {op.value: op for op in Operation}
# A tuple, not `int | float`: that union is built anew at every call (this runs a dozen
# times per webhook).
_NUMBERS = (int, float)


def parse_webhook(body: bytes) -> WebhookEvent:
    """Decode and check the envelope of a Database Webhook call."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        # ValueError covers bad UTF-8 and bad JSON, and also integers longer than Python
        # converts (4300 digits), which json.loads reports as a plain ValueError.
        raise NotJSONError("body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise InvalidPayload("$", "expected a JSON object with type, table, schema, record")
    operation = _operation(payload)
    table = _required_text(payload, "table")
    schema = _required_text(payload, "schema")
    record = _optional_row(payload, "record")
    old_record = _optional_row(payload, "old_record")
    if operation is not Operation.DELETE and record is None:
        raise InvalidPayload("record", f"must be an object for {operation.value}")
    return WebhookEvent(operation, schema, table, record, old_record)


def _operation(payload: Mapping[str, Any]) -> Operation:
    raw = payload.get("type")
    if not isinstance(raw, str):
        raise InvalidPayload("type", "missing; expected INSERT, UPDATE or DELETE")
    operation = _OPERATIONS.get(raw.upper())
    if operation is None:
        raise InvalidPayload("type", "expected INSERT, UPDATE or DELETE")
    return operation


def _required_text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidPayload(key, "missing; expected a non-empty string")
    return value


def _optional_row(payload: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = payload.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise InvalidPayload(key, "expected an object or null")


def row_text(row: Mapping[str, Any], key: str) -> str | None:
    """A column as text: strings as they are, numbers spelled out, anything else None."""
    value = row.get(key)
    if isinstance(value, str):
        return value
    if isinstance(value, _NUMBERS) and not isinstance(value, bool):
        return str(value)
    return None


def parameters_of(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """`record.parameters` as a mapping, whether jsonb, JSON text or null."""
    raw = record.get("parameters")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            # A corrupt text column must not cost us the failure: keep it, unexplained.
            return {}
    return raw if isinstance(raw, dict) else {}


def error_details(record: Mapping[str, Any]) -> ErrorDetails:
    """The guide's error fields: `parameters.error` and `parameters.errorContext`."""
    parameters = parameters_of(record)
    context = parameters.get("errorContext")
    if not isinstance(context, dict):
        context = {}
    error = row_text(parameters, "error")
    context_message = row_text(context, "message")
    code = (row_text(context, "code") or None) if "code" in context else None
    status = _http_status(context)
    if status is None and code is not None:
        # Some SDKs put the HTTP status in `code` (Azure OpenAI's "429").
        status = _as_status(code)
    return ErrorDetails(
        message=error if error is not None else (context_message or ""),
        error_type=row_text(context, "type") or None,
        timestamp=row_text(context, "timestamp") or None,
        context_message=context_message,
        context_user_id=row_text(context, "userId"),
        code=code,
        status=status,
    )


_STATUS_KEYS = ("status", "statusCode", "httpStatus")


def _http_status(context: Mapping[str, Any]) -> int | None:
    """The first of errorContext's status fields that holds an HTTP status (100-599);
    gRPC's words ("RESOURCE_EXHAUSTED") and anything else are not one."""
    for key in _STATUS_KEYS:
        if key in context:
            status = _as_status(row_text(context, key))
            if status is not None:
                return status
    return None


def _as_status(text: str | None) -> int | None:
    if text is None or len(text) != 3 or not text.isdigit() or not text.isascii():
        return None
    status = int(text)
    return status if 100 <= status <= 599 else None
