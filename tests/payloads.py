"""Webhook bodies shaped byte for byte the way Supabase sends them.

A Database Webhook builds its body with `jsonb_build_object('old_record', OLD, 'record',
NEW, 'type', TG_OP, 'table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA)` and pg_net posts
`body::text`. So keys come in jsonb's order (shorter keys first, then bytewise), with
`", "` and `": "` as separators, non-ASCII as raw UTF-8, timestamps as ISO strings with
an offset and uuids as strings. `tests/test_supabase_payloads.py` checks this module
against a real PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Any

SECRET = "whsec-test-3f9a1c"
WEBHOOK = "/webhooks/supabase"


def jsonb_text(value: Any) -> str:
    """`value::jsonb::text`, as PostgreSQL prints it."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        items = (f"{json.dumps(k, ensure_ascii=False)}: {jsonb_text(value[k])}" for k in keys)
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(jsonb_text(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def supabase_body(
    operation: str,
    record: dict[str, Any] | None,
    old_record: dict[str, Any] | None = None,
    *,
    table: str = "generations",
    schema: str = "public",
) -> bytes:
    """The body pg_net posts for one row change."""
    envelope = {
        "old_record": old_record,
        "record": record,
        "type": operation,
        "table": table,
        "schema": schema,
    }
    return jsonb_text(envelope).encode("utf-8")


def generation(**columns: Any) -> dict[str, Any]:
    """A `generations` row as `to_jsonb(NEW)` gives it: the guide's columns, failed."""
    row: dict[str, Any] = {
        "id": "5b0f4f8e-2a7c-4d3e-9a61-0c8f3e2d1b7a",
        "user_id": "d9a3c1e2-7f4b-4c8a-b5e6-1a2b3c4d5e6f",
        "session_id": "sess_01HZX3K9",
        "model_id": "flux-pro",
        "prompt": "a lighthouse at dusk, oil painting",
        "status": "failed",
        "parameters": {
            "width": 1024,
            "height": 1024,
            "error": "Request 8f3a9c2e timed out after 30012ms",
            "errorContext": {
                "message": "Request 8f3a9c2e timed out after 30012ms",
                "type": "ModelTimeoutError",
                "timestamp": "2024-05-01T12:00:31.012Z",
                "userId": "d9a3c1e2-7f4b-4c8a-b5e6-1a2b3c4d5e6f",
                "stack": "ModelTimeoutError: Request 8f3a9c2e timed out\n    at run (worker.ts:88)",
            },
        },
        "created_at": "2024-05-01T12:00:00.512345+00:00",
        "updated_at": "2024-05-01T12:00:31.020871+00:00",
    }
    row.update(columns)
    return row


def failed_insert(**columns: Any) -> bytes:
    """The INSERT of a row that is failed from the start."""
    return supabase_body("INSERT", generation(**columns))


def became_failed_update(**columns: Any) -> bytes:
    """The UPDATE processing → failed that a worker makes when a generation fails."""
    new = generation(**columns)
    old = dict(new, status="processing", parameters={"width": 1024, "height": 1024})
    old["updated_at"] = "2024-05-01T12:00:00.512345+00:00"
    return supabase_body("UPDATE", new, old)


def auth(secret: str = SECRET) -> dict[str, str]:
    """Headers as the dashboard's custom-header helper configures them."""
    return {"content-type": "application/json", "x-supabase-webhook-source": secret}
