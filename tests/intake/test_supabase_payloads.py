"""Bodies built by PostgreSQL itself, the way a Supabase Database Webhook builds them.

A trigger on the guide's `generations` table runs the `jsonb_build_object(...)` of
`supabase_functions.http_request()` and keeps `payload::text` (what pg_net posts). Those
bodies go through the app, and they pin down `tests/payloads.py`, which the other
tests use to write such bodies without a database.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.asgi import serving
from tests.payloads import WEBHOOK, auth, jsonb_text
from tests.postgres import scratch_database
from tests.webapp import make_app, stored_failures

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]

GUIDE_SCHEMA = Path(__file__).parents[1] / "sql" / "guide_schema.sql"

CAPTURE = """
CREATE TABLE webhook_bodies (n bigserial PRIMARY KEY, body text NOT NULL);
CREATE FUNCTION capture_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO webhook_bodies (body) VALUES (jsonb_build_object(
    'old_record', OLD,
    'record', NEW,
    'type', TG_OP,
    'table', TG_TABLE_NAME,
    'schema', TG_TABLE_SCHEMA
  )::text);
  RETURN NULL;
END
$$;
CREATE TRIGGER failwatch_webhook AFTER INSERT OR UPDATE OR DELETE ON public.generations
  FOR EACH ROW EXECUTE FUNCTION capture_webhook();
"""

ERROR = {
    "error": "Request 8f3a9c2e timed out after 30012ms",
    "errorContext": {
        "message": "Request 8f3a9c2e timed out after 30012ms",
        "type": "ModelTimeoutError",
        "timestamp": "2024-05-01T12:00:31.012Z",
        "userId": "user-1",
    },
}

# What the app does with each row change, in order.
CHANGES: list[tuple[str, tuple[object, ...], dict[str, str]]] = [
    (
        "INSERT INTO generations (id, user_id, model_id, prompt, status, parameters, created_at)"
        " VALUES ('gen-1', 'user-1', 'flux-pro', 'a lighthouse', 'processing',"
        " '{\"width\": 1024}', '2024-05-01 12:00:00.512345+00')",
        (),
        {"status": "ignored", "reason": "not_failed"},
    ),
    (
        "UPDATE generations SET status = 'failed', parameters = parameters || %s::jsonb,"
        " updated_at = '2024-05-01 12:00:31.02+00' WHERE id = 'gen-1'",
        (json.dumps(ERROR),),
        {"status": "accepted"},
    ),
    (
        "UPDATE generations SET updated_at = now() WHERE id = 'gen-1'",
        (),
        {"status": "ignored", "reason": "already_failed"},
    ),
    (
        "INSERT INTO generations (id, user_id, model_id, prompt, status, parameters)"
        " VALUES ('gen-2', NULL, 'flüx-プロ', '灯台 🌅', 'failed', %s::jsonb)",
        (json.dumps({"error": "Rate limit exceeded", "errorContext": {"userId": "user-2"}}),),
        {"status": "accepted"},
    ),
    (
        "DELETE FROM generations WHERE id = 'gen-2'",
        (),
        {"status": "ignored", "reason": "delete"},
    ),
]


@pytest.fixture(scope="module")
def bodies() -> list[str]:
    """The body of each change in `CHANGES`, as the database built it."""
    with scratch_database() as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")  # as on Supabase
        conn.execute(GUIDE_SCHEMA.read_text(encoding="utf-8").encode())
        conn.execute(CAPTURE.encode())
        for statement, params, _ in CHANGES:
            conn.execute(statement.encode(), params)
        return [row[0] for row in conn.execute("SELECT body FROM webhook_bodies ORDER BY n")]


async def test_postgres_built_bodies_through_the_app(bodies: list[str], tmp_path: Path) -> None:
    assert len(bodies) == len(CHANGES)
    async with serving(make_app(tmp_path)) as client:
        answers = [
            (await client.post(WEBHOOK, content=body.encode(), headers=auth())).json()
            for body in bodies
        ]
    assert answers == [expected for _, _, expected in CHANGES]
    assert await stored_failures(tmp_path) == 2


def test_the_test_payload_writer_matches_postgres(bodies: list[str]) -> None:
    for body in bodies:
        # Same keys in the same order, same spacing, same escapes, same timestamps.
        assert jsonb_text(json.loads(body)) == body
    # jsonb's key order (shortest first), not the order jsonb_build_object was given.
    assert bodies[0].startswith('{"type": "INSERT", "table": "generations", "record": {"id": ')
    assert '"created_at": "2024-05-01T12:00:00.512345+00:00"' in bodies[0]
