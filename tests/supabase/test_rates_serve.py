"""Acceptance: the failure-rate rule inside a real `failwatch serve` against PostgreSQL —
fires on generated traffic, is updated, and resolves after recovery."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from tests.serving import running_serve
from tests.supabase.conftest import SourceDatabase
from tests.supabase.support import stored_failures, wait_until
from tests.supabase.test_rates import DAY, set_failed, traffic
from tests.supabase.test_sweep_serve import reader_url

pytestmark = [pytest.mark.postgres, pytest.mark.acceptance]


def cleared_members(path: Path) -> list[tuple[str, int]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return [
            (str(row[0]), int(row[1]))
            for row in conn.execute("SELECT generation_id, cleared FROM group_members")
        ]
    except sqlite3.OperationalError:  # not migrated yet
        return []
    finally:
        conn.close()


def test_a_model_failing_at_40_percent_alerts_through_serve(
    set_up_db: SourceDatabase, tmp_path: Path
) -> None:
    with psycopg.connect(set_up_db.dsn, autocommit=True) as conn:
        traffic(conn, "flux-pro", finished=190, failed=6, ago=DAY + 120, tag="y")
        traffic(conn, "flux-pro", finished=220, failed=90, ago=120, tag="n")
        traffic(conn, "sdxl", finished=200, failed=4, ago=120, tag="s")
    env = {
        "FAILWATCH_WEBHOOK_SECRET": "acceptance-secret",
        "FAILWATCH_DATABASE_URL": reader_url(set_up_db),
        "FAILWATCH_SWEEP_INTERVAL": "300ms",
        "FAILWATCH_GROUP_WAIT": "0s",
    }
    with running_serve(tmp_path, **env) as served:

        def rate_alerts() -> list[dict[str, object]]:
            return [r for r in stored_failures(served.db_path) if r["category"] == "failure_rate"]

        wait_until(lambda: len(rate_alerts()) >= 1)
        [first] = rate_alerts()
        assert first["model_id"] == "flux-pro"
        assert first["kind"] == "condition"
        assert first["message"] == (
            "flux-pro: 41% of 220 finished generations failed in the last 10 min "
            "(same window yesterday: 3% of 190)"
        )
        with psycopg.connect(set_up_db.dsn, autocommit=True) as conn:
            set_failed(conn, "n", 132)
        wait_until(lambda: any("60% of 220" in str(r["message"]) for r in rate_alerts()))
        assert {r["generation_id"] for r in rate_alerts()} == {first["generation_id"]}

        with psycopg.connect(set_up_db.dsn, autocommit=True) as conn:
            set_failed(conn, "n", 4)
        wait_until(lambda: (str(first["generation_id"]), 1) in cleared_members(served.db_path))
        assert served.metric("failwatch_failures_total", category="failure_rate") >= 2
        assert served.metric("failwatch_sweep_runs_total", result="error") == 0
