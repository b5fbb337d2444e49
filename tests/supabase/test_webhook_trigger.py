"""End to end through real triggers: a row becomes failed in PostgreSQL, the pg_net
stand-in sends the webhook after commit, and `failwatch serve` (a real process) stores it
and notifies it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import psycopg
import pytest

from receiver.supabase.setup_sql import webhook_sql
from tests.serving import Server, running_serve
from tests.supabase.conftest import SourceDatabase
from tests.supabase.support import (
    install_pg_net_standin,
    responses,
    run_pg_net_worker,
    stored_failures,
)
from tests.supabase.sweep_support import fail_generation, insert_generation

pytestmark = [pytest.mark.postgres, pytest.mark.acceptance]

# Quotes and a backslash: the SQL literal, the JSON headers and HTTP must all carry it.
SECRET = "it's a \\secret\" of sorts"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("serve")
    env = {
        "FAILWATCH_WEBHOOK_SECRET": f"{SECRET},next-secret",
        # No Slack or e-mail configured: notifications go to the console (its log).
        "FAILWATCH_GROUP_WAIT": "0s",
        "FAILWATCH_GROUP_INTERVAL": "1s",
    }
    with running_serve(tmp, **env) as served:
        yield served


@pytest.fixture
def db(set_up_db: SourceDatabase) -> SourceDatabase:
    install_pg_net_standin(set_up_db.dsn)
    return set_up_db


def generation_ids(served: Server) -> list[str]:
    return [str(row["generation_id"]) for row in stored_failures(served.db_path)]


def test_only_committed_transitions_into_failed_reach_failwatch(
    served: Server, db: SourceDatabase
) -> None:
    url = f"{served.url}/webhooks/supabase?from=it's"
    before = generation_ids(served)
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        for gid in ("e2e-p1", "e2e-p2", "e2e-p3"):
            insert_generation(conn, gid, "processing")
        insert_generation(conn, "e2e-done", "completed")
        insert_generation(conn, "e2e-was-failed", "failed")
        conn.execute(webhook_sql(url=url, secret=SECRET))

        fail_generation(conn, "e2e-p1", "Rate limit exceeded", timestamp="2030-01-01T00:00:00Z")
        conn.execute(
            "INSERT INTO generations (id, status, model_id, parameters) "
            "VALUES ('e2e-born-failed', 'failed', 'sdxl', '{\"error\": \"boom\"}')"
        )
    assert run_pg_net_worker(db.dsn) == 2
    assert [r[:1] for r in responses(db.dsn)] == [(202,), (202,)]
    assert [json.loads(r[1] or "{}") for r in responses(db.dsn)] == [{"status": "accepted"}] * 2

    with psycopg.connect(db.dsn, autocommit=True) as conn:
        # Nothing that is not a transition into failed leaves the database.
        conn.execute("UPDATE generations SET status = 'processing' WHERE id = 'e2e-p2'")
        conn.execute("UPDATE generations SET prompt = 'edited' WHERE id = 'e2e-done'")
        conn.execute(
            "UPDATE generations SET status = 'failed', prompt = 'again' WHERE id = 'e2e-was-failed'"
        )
        conn.execute("UPDATE generations SET status = 'completed' WHERE id = 'e2e-p3'")
        with conn.transaction(force_rollback=True):
            fail_generation(conn, "e2e-p2", "rolled back")
            assert conn.execute("SELECT count(*) FROM net.http_request_queue").fetchone() == (1,)
    assert run_pg_net_worker(db.dsn) == 0

    with psycopg.connect(db.dsn) as conn:  # one open transaction: queued, not yet sendable
        fail_generation(conn, "e2e-p2", "Request 42 timed out")
        assert run_pg_net_worker(db.dsn) == 0
        conn.commit()
    assert run_pg_net_worker(db.dsn) == 1

    assert [r[0] for r in responses(db.dsn)] == [202, 202, 202]
    new = [gid for gid in generation_ids(served) if gid not in before]
    assert new == ["e2e-p1", "e2e-born-failed", "e2e-p2"]
    rows = {r["generation_id"]: r for r in stored_failures(served.db_path)}
    assert (rows["e2e-p1"]["category"], rows["e2e-p1"]["source"]) == ("rate_limit", "webhook")
    assert rows["e2e-p2"]["category"] == "timeout"
    # ... and on to a notifier: the console receiver prints each notification.
    wanted = {"Rate limit exceeded", "Request 42 timed out"}
    deadline = time.monotonic() + 30
    while not wanted <= notified_messages(served) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert wanted <= notified_messages(served)
    assert SECRET not in served.log()


def notified_messages(served: Server) -> set[str]:
    """Error messages of the notifications the console receiver printed."""
    found: set[str] = set()
    for line in served.log().splitlines():
        if line.startswith('{"notification"'):
            found.update(error["message"] for error in json.loads(line)["top_errors"])
    return found


def test_the_slim_webhook_sends_a_small_body_that_failwatch_accepts(
    served: Server, db: SourceDatabase
) -> None:
    huge_prompt = "a castle on a hill, " * 10_000  # 200 KB: whole rows would be too big
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO generations (id, status, model_id, prompt) "
            "VALUES ('e2e-slim', 'processing', 'flux-pro', %s)",
            (huge_prompt,),
        )
        conn.execute(webhook_sql(url=f"{served.url}/webhooks/supabase", secret=SECRET, slim=True))
        fail_generation(conn, "e2e-slim", "Request 7 timed out", timestamp="2030-01-02T00:00:00Z")
        queued = conn.execute("SELECT body FROM net.http_request_queue").fetchall()
    assert len(queued) == 1
    body = bytes(queued[0][0])
    payload = json.loads(body)
    assert len(body) < 2048
    assert payload["type"] == "UPDATE"
    assert payload["old_record"] == {"id": "e2e-slim", "status": "processing"}
    assert sorted(payload["record"]) == [
        "created_at",
        "id",
        "model_id",
        "parameters",
        "session_id",
        "status",
        "updated_at",
        "user_id",
    ]
    assert payload["record"]["parameters"]["errorContext"]["timestamp"] == "2030-01-02T00:00:00Z"
    assert "stack" not in payload["record"]["parameters"]["errorContext"]

    assert run_pg_net_worker(db.dsn) == 1
    assert [r[0] for r in responses(db.dsn)] == [202]
    rows = {r["generation_id"]: r for r in stored_failures(served.db_path)}
    assert rows["e2e-slim"]["idempotency_key"] == "e2e-slim:failed:2030-01-02T00:00:00Z"
    assert rows["e2e-slim"]["message"] == "Request 7 timed out"


def test_a_webhook_with_the_wrong_secret_is_refused_and_stores_nothing(
    served: Server, db: SourceDatabase
) -> None:
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        insert_generation(conn, "e2e-wrong", "processing")
        conn.execute(webhook_sql(url=f"{served.url}/webhooks/supabase", secret="guess"))
        fail_generation(conn, "e2e-wrong", "boom")
    assert run_pg_net_worker(db.dsn) == 1
    assert [r[0] for r in responses(db.dsn)] == [401]
    assert "e2e-wrong" not in generation_ids(served)


def test_rows_that_fail_together_are_all_delivered(served: Server, db: SourceDatabase) -> None:
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO generations (id, status, model_id) "
            "SELECT 'e2e-bulk-' || i, 'processing', 'sdxl' FROM generate_series(1, 20) i"
        )
        conn.execute(webhook_sql(url=f"{served.url}/webhooks/supabase", secret=SECRET))
        conn.execute(
            "UPDATE generations SET status = 'failed', "
            "parameters = jsonb_build_object('error', 'GPU ' || id || ' lost') "
            "WHERE id LIKE 'e2e-bulk-%'"
        )
    assert run_pg_net_worker(db.dsn) == 20
    assert {r[0] for r in responses(db.dsn)} == {202}
    assert len([g for g in generation_ids(served) if g.startswith("e2e-bulk-")]) == 20
