"""The setup SQL on a real PostgreSQL with the guide's schema: idempotent, correct results,
least privilege."""

from __future__ import annotations

from datetime import datetime

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from receiver.supabase.setup_sql import setup_body
from tests.supabase.conftest import SourceDatabase

pytestmark = pytest.mark.postgres

GUIDE_FUNCTION = """
CREATE FUNCTION get_failure_stats(hours_back INTEGER DEFAULT 24)
RETURNS TABLE (model_id TEXT, failure_count BIGINT, affected_users BIGINT,
               latest_failure TIMESTAMP) AS $$
BEGIN
  RETURN QUERY
  SELECT g.model_id, COUNT(*), COUNT(DISTINCT g.user_id), MAX(g.created_at)
  FROM generations g
  WHERE g.status = 'failed' AND g.created_at >= NOW() - (hours_back || ' hours')::INTERVAL
  GROUP BY g.model_id ORDER BY 2 DESC;
END;
$$ LANGUAGE plpgsql;
"""

# id, status, model, user, session, hours ago, error, error type
ROWS = [
    ("g1", "failed", "flux-pro", "u1", "s1", 1, "Rate limit exceeded (429)", "RateLimitError"),
    ("g2", "failed", "flux-pro", "u2", "s2", 2, "Request timed out", "TimeoutError"),
    ("g3", "failed", "flux-pro", "u1", None, 30, "Request timed out", "TimeoutError"),
    ("g4", "failed", "sdxl", "u2", None, 5, "boom", None),
    ("g5", "completed", "flux-pro", "u1", "s1", 1, None, None),
    ("g6", "processing", "sdxl", "u1", None, 0.3, None, None),
    ("g7", "failed", None, "u1", None, 72, "no model", None),
    ("g8", "failed", "sdxl", "u3", None, 10, "boom", "ModelGenerationError"),
]


def seed(dsn: str) -> dict[str, datetime]:
    """The rows above; returns each generation's created_at as stored."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO profiles VALUES ('u1', 'Ada', 'ada'), ('u2', 'Bob', 'bob');"
            "INSERT INTO projects VALUES ('p1', 'Poster');"
            "INSERT INTO sessions VALUES ('s1', 'Morning', 'p1'), ('s2', 'Loose', NULL)"
        )
        created = {}
        for gid, status, model, user, session, hours, error, etype in ROWS:
            parameters: dict[str, object] = {}
            if error:
                parameters["error"] = error
                if etype:
                    parameters["errorContext"] = {"type": etype, "message": error}
            row = conn.execute(
                "INSERT INTO generations (id, status, model_id, user_id, session_id, prompt, "
                "parameters, created_at) VALUES (%s, %s, %s, %s, %s, 'a cat', %s, "
                "now() - make_interval(secs => %s)) RETURNING created_at",
                (
                    gid,
                    status,
                    model,
                    user,
                    session,
                    Jsonb(parameters),
                    hours * 3600,
                ),
            ).fetchone()
            assert row is not None
            created[gid] = row[0]
        return created


def test_setup_applies_twice_and_reports_each_step(source_db: SourceDatabase) -> None:
    first = source_db.apply_setup()
    second = source_db.apply_setup()
    assert first == second
    assert first[0].startswith("ok   failed_generations_view")
    assert [line.split()[-1] for line in first[1:]] == [
        "failwatch_generations_failed_created_at",
        "failwatch_generations_failed_user",
        "failwatch_generations_processing_created_at",
        "failwatch_generations_failed_updated_at",
    ]
    with psycopg.connect(source_db.dsn) as conn:
        indexes = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'failwatch_%'"
        ).fetchone()
        policies = conn.execute(
            "SELECT count(*) FROM pg_policies WHERE policyname = %s",
            (f"{source_db.reader_role}_reads_all",),
        ).fetchone()
    assert indexes == (4,)
    assert policies == (4,)  # one per table, not one per run


def test_the_view_joins_names_onto_every_failed_generation(set_up_db: SourceDatabase) -> None:
    created = seed(set_up_db.dsn)
    with psycopg.connect(set_up_db.dsn, row_factory=dict_row) as conn:
        rows = conn.execute("SELECT * FROM failed_generations_view ORDER BY id").fetchall()
    assert [r["id"] for r in rows] == ["g1", "g2", "g3", "g4", "g7", "g8"]
    g1, g2, g3, _, _, g8 = rows
    assert g1 == {
        "id": "g1",
        "user_id": "u1",
        "model_id": "flux-pro",
        "prompt": "a cat",
        "status": "failed",
        "created_at": created["g1"],
        "error_message": "Rate limit exceeded (429)",
        "error_type": "RateLimitError",
        "user_display_name": "Ada",
        "username": "ada",
        "session_name": "Morning",
        "project_name": "Poster",
    }
    assert (g2["session_name"], g2["project_name"], g2["username"]) == ("Loose", None, "bob")
    assert (g3["session_name"], g3["user_display_name"]) == (None, "Ada")
    assert (g8["user_display_name"], g8["error_type"]) == (None, "ModelGenerationError")


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        # model, failures, distinct users, latest failure (generation id)
        (24, [("flux-pro", 2, 2, "g1"), ("sdxl", 2, 2, "g4")]),
        (48, [("flux-pro", 3, 2, "g1"), ("sdxl", 2, 2, "g4")]),
        (100, [("flux-pro", 3, 2, "g1"), ("sdxl", 2, 2, "g4"), (None, 1, 1, "g7")]),
        (0, []),
    ],
)
def test_failure_stats_match_hand_counts(
    set_up_db: SourceDatabase, hours: int, expected: list[tuple[str | None, int, int, str]]
) -> None:
    created = seed(set_up_db.dsn)
    with psycopg.connect(set_up_db.dsn) as conn:
        rows = conn.execute("SELECT * FROM get_failure_stats(%s)", (hours,)).fetchall()
    assert rows == [(m, n, users, created[latest]) for m, n, users, latest in expected]
    for row in rows:
        assert row[3].tzinfo is not None  # timestamptz, not the guide's TIMESTAMP


def test_a_guide_made_function_and_view_are_replaced(source_db: SourceDatabase) -> None:
    with psycopg.connect(source_db.dsn, autocommit=True) as conn:
        conn.execute(GUIDE_FUNCTION)
        conn.execute(
            "CREATE VIEW failed_generations_view AS SELECT g.id, g.user_id, g.model_id, "
            "g.prompt, g.status, g.created_at, g.parameters->>'error' AS error_message, "
            "g.parameters->'errorContext'->>'type' AS error_type, NULL::text AS "
            "user_display_name, NULL::text AS username, NULL::text AS session_name, "
            "NULL::text AS project_name FROM generations g WHERE g.status = 'failed'"
        )
    source_db.apply_setup()
    with psycopg.connect(source_db.dsn) as conn:
        result = conn.execute(
            "SELECT pg_get_function_result('get_failure_stats(integer)'::regprocedure)"
        ).fetchone()
        options = conn.execute(
            "SELECT reloptions FROM pg_class WHERE relname = 'failed_generations_view'"
        ).fetchone()
    assert result is not None
    assert "latest_failure timestamp with time zone" in result[0]
    assert options == (["security_invoker=true"],)


def test_the_reader_role_reads_through_rls_and_can_do_nothing_else(
    set_up_db: SourceDatabase,
) -> None:
    seed(set_up_db.dsn)
    role = set_up_db.reader_role
    with psycopg.connect(set_up_db.dsn, autocommit=True) as admin:
        # As in a Supabase project: RLS on, and no policy that would let others read.
        for table in ("generations", "profiles", "sessions", "projects"):
            admin.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        admin.execute(f"ALTER ROLE {role} LOGIN")
        admin.execute("INSERT INTO auth.users (id, email) VALUES (gen_random_uuid(), 'a@b.c')")
    with psycopg.connect(set_up_db.dsn, user=role, autocommit=True) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        assert conn.execute("SELECT count(*) FROM failed_generations_view").fetchone() == (6,)
        names = conn.execute(
            "SELECT user_display_name FROM failed_generations_view WHERE id = 'g1'"
        ).fetchone()
        assert names == ("Ada",)  # the joined tables are readable too
        assert len(conn.execute("SELECT * FROM get_failure_stats(24)").fetchall()) == 2
        assert conn.execute("SELECT email FROM auth.users").fetchall() == [("a@b.c",)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT created_at FROM auth.users")
        conn.execute("SET default_transaction_read_only = off")  # the role may; still no
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE generations SET status = 'completed'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE public.scratch (x int)")


def test_api_roles_lose_the_grants_supabase_gives_new_objects(source_db: SourceDatabase) -> None:
    """anon/authenticated exist in every Supabase project and get new objects in `public`
    by default privileges. Everything here runs in one transaction that is rolled back,
    so no cluster-wide role outlives the test."""
    with psycopg.connect(source_db.dsn) as conn:
        existing = {
            r[0]
            for r in conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname IN ('anon', 'authenticated')"
            )
        }
        for role in {"anon", "authenticated"} - existing:
            conn.execute(f"CREATE ROLE {role} NOLOGIN")
        conn.execute(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            "GRANT ALL ON TABLES TO anon, authenticated;"
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            "GRANT ALL ON FUNCTIONS TO anon, authenticated;"
            "CREATE VIEW public.control_view AS SELECT 1 AS one"
        )
        conn.execute(setup_body(reader_role=source_db.reader_role))
        row = conn.execute(
            "SELECT has_table_privilege('anon', 'public.control_view', 'SELECT'),"
            " has_table_privilege('anon', 'public.failed_generations_view', 'SELECT'),"
            " has_table_privilege('authenticated', 'public.failed_generations_view', 'SELECT'),"
            " has_function_privilege('anon', 'public.get_failure_stats(integer)', 'EXECUTE'),"
            " has_function_privilege("
            "   'authenticated', 'public.get_failure_stats(integer)', 'EXECUTE')"
        ).fetchone()
        conn.rollback()
    assert row == (True, False, False, False, False)
