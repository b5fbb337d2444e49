"""The planner uses failwatch's partial indexes for the guide's queries and the sweeps'
on a table of 200,000 generations (no planner settings forced)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from receiver.supabase import sweep_queries as queries
from receiver.supabase.apply import apply_setup
from receiver.supabase.sweep_queries import SourceTable
from tests.postgres import require_postgres, scratch_database
from tests.supabase.large_table import seed_large_table
from tests.supabase.support import drop_role, load_guide_schema, unique_role

pytestmark = pytest.mark.postgres

TABLE = SourceTable("public", "generations", "text", "updated_at")
NOW = datetime.now(UTC)

GUIDE_QUERIES: list[tuple[str, sql.Composable, dict[str, Any], str]] = [
    (
        "guide 1: failed in the last 24 h, with names",
        sql.SQL(
            "SELECT * FROM failed_generations_view "
            "WHERE created_at >= now() - interval '24 hours' ORDER BY created_at DESC"
        ),
        {},
        "failwatch_generations_failed_created_at",
    ),
    (
        "guide 2: failed generations of one user",
        sql.SQL(
            "SELECT id, model_id, created_at FROM generations "
            "WHERE status = 'failed' AND user_id = 'u100' ORDER BY created_at DESC LIMIT 50"
        ),
        {},
        "failwatch_generations_failed_user",
    ),
    (
        "guide 3: processing for more than 10 minutes",
        sql.SQL(
            "SELECT id, created_at FROM generations WHERE status = 'processing' "
            "AND created_at < now() - interval '10 minutes' ORDER BY created_at LIMIT 100"
        ),
        {},
        "failwatch_generations_processing_created_at",
    ),
    (
        "guide 4 / get_failure_stats(168): failures per model over 7 days",
        sql.SQL(
            "SELECT model_id, count(*), count(DISTINCT user_id) FROM generations "
            "WHERE status = 'failed' AND created_at >= now() - interval '7 days' "
            "GROUP BY model_id"
        ),
        {},
        "failwatch_generations_failed_created_at",
    ),
    (
        "sweep: stuck generations, first page",
        queries.stuck_page(TABLE, after=False),
        {"stuck_after": 600.0, "limit": 500, "dropped": ["prompt"]},
        "failwatch_generations_processing_created_at",
    ),
    (
        "sweep: failed since the last sweep, next page",
        queries.failed_page(TABLE, after=True),
        {
            "since": NOW - timedelta(minutes=6),
            "after_ts": NOW - timedelta(minutes=6),
            "after_id": "g0",
            "limit": 500,
            "dropped": ["prompt"],
        },
        "failwatch_generations_failed_updated_at",
    ),
    (
        "sweep: failed in the first 24 h look-back",
        queries.failed_page(TABLE, after=False),
        {"since": NOW - timedelta(hours=24), "limit": 500, "dropped": ["prompt"]},
        "failwatch_generations_failed_updated_at",
    ),
    (
        "sweep: which stuck generations are still processing",
        queries.still_processing(TABLE),
        {"ids": [f"g{i}" for i in range(1, 2000, 100)]},
        "generations_pkey",
    ),
]


@pytest.fixture(scope="module")
def large_db() -> Iterator[str]:
    require_postgres()
    role = unique_role()
    try:
        with scratch_database("fw_supa_plans") as dsn:
            load_guide_schema(dsn)
            seed_large_table(dsn, rows=200_000)
            with psycopg.connect(dsn, autocommit=True) as conn:
                apply_setup(conn, reader_role=role, report=lambda line: None)
                conn.execute("ANALYZE generations")
            yield dsn
    finally:
        drop_role(role)


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def explain(dsn: str, query: sql.Composable, params: dict[str, Any]) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) {}").format(query), params).fetchone()
    assert row is not None
    return list(plan_nodes(row[0][0]["Plan"]))


@pytest.mark.parametrize(
    ("query", "params", "index"),
    [pytest.param(q, p, i, id=name) for name, q, p, i in GUIDE_QUERIES],
)
def test_the_query_reads_generations_through_the_index(
    large_db: str, query: sql.Composable, params: dict[str, Any], index: str
) -> None:
    nodes = explain(large_db, query, params)
    assert index in {n.get("Index Name") for n in nodes}, nodes
    scans = [n for n in nodes if n.get("Relation Name") == "generations"]
    assert scans, nodes
    assert all(n["Node Type"] != "Seq Scan" for n in scans), scans


def test_without_the_indexes_the_same_query_scans_the_table(large_db: str) -> None:
    """The control: the plans above are the indexes' doing, not the planner's habit."""
    _, query, params, _ = GUIDE_QUERIES[0]
    with psycopg.connect(large_db) as conn:  # one transaction, rolled back
        for index in {i for _, _, _, i in GUIDE_QUERIES if i.startswith("failwatch_")}:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(index)))
        row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) {}").format(query), params).fetchone()
        conn.rollback()
    assert row is not None
    nodes = list(plan_nodes(row[0][0]["Plan"]))
    assert any(
        n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "generations" for n in nodes
    )
