"""What the `--failure-rate` index costs and buys, on a large `generations` table: the rate
rules' aggregate (EXPLAIN ANALYZE) and the app's writes (inserts of finished rows,
`processing` → `completed` updates: rows per second and WAL bytes per row), without the
index and with it, twice each, alternating (the spread between runs of one kind is the
machine's noise; the WAL bytes are not noisy).

    python -m tests.supabase.rate_index_report [--rows 1000000] [--writes 50000]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from receiver.supabase.apply import apply_setup, failure_rate_indexes
from receiver.supabase.rate_queries import DAY, window_counts
from receiver.supabase.sweep_queries import SourceTable
from tests.postgres import scratch_database
from tests.supabase.explain_report import measure
from tests.supabase.large_table import seed_large_table
from tests.supabase.support import drop_role, load_guide_schema, unique_role

# Alternating, so that a burst of load from elsewhere does not land on one side only.
PHASES = ("without", "with", "without", "with")
RATE_PARAMS = {"rate_window": 600.0, "flat_window": 900.0, "lag": 0.0, "day": DAY}

# What the app writes, in bulk so the server's own time is measured (a client's round
# trips and commits cost the same with or without the index, and on a shared machine
# they are mostly noise): new rows that are already finished, and `processing` rows that
# finish.
INSERT = (
    "INSERT INTO generations (id, user_id, model_id, prompt, status, parameters, "
    "created_at, updated_at) SELECT {tag} || i, 'u1', 'model-1', 'a prompt', {status}, "
    "'{{}}'::jsonb, now(), now() FROM generate_series(1, {count}) AS i"
)
FINISH = (
    "UPDATE generations SET status = 'completed', updated_at = now() "
    "WHERE status = 'processing' AND id LIKE {pattern}"
)


@dataclass(frozen=True)
class Cost:
    """Rows per second of the statement's own execution, and WAL bytes per row."""

    per_second: float
    wal_per_row: float


def cost(conn: psycopg.Connection[Any], statement: sql.Composable, rows: int) -> Cost:
    row = conn.execute(
        sql.SQL("EXPLAIN (ANALYZE, WAL, FORMAT JSON) {}").format(statement)
    ).fetchone()
    assert row is not None
    plan = row[0][0]
    seconds = float(plan["Execution Time"]) / 1000
    return Cost(rows / seconds, float(plan["Plan"]["WAL Bytes"]) / rows)


def writes(conn: psycopg.Connection[Any], tag: str, count: int) -> tuple[Cost, Cost]:
    def insert(prefix: str, status: str) -> sql.Composed:
        return sql.SQL(INSERT).format(
            tag=sql.Literal(f"{tag}-{prefix}-"), status=sql.Literal(status), count=count
        )

    inserts = cost(conn, insert("new", "completed"), count)
    conn.execute(insert("run", "processing"))
    conn.execute("VACUUM ANALYZE generations")
    updates = cost(conn, sql.SQL(FINISH).format(pattern=sql.Literal(f"{tag}-run-%")), count)
    # Gone again, so that every phase's aggregate reads the same table.
    conn.execute("DELETE FROM generations WHERE id LIKE %s", (f"{tag}-%",))
    return inserts, updates


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--writes", type=int, default=50_000)
    options = parser.parse_args()
    role = unique_role()
    results: list[tuple[str, str, Cost, Cost]] = []
    try:
        with scratch_database("fw_rate_index") as dsn:
            load_guide_schema(dsn)
            seed_large_table(dsn, rows=options.rows)
            with psycopg.connect(dsn, autocommit=True) as conn:
                apply_setup(conn, reader_role=role, report=lambda line: None)
                conn.execute("VACUUM ANALYZE generations")
                query = window_counts(SourceTable("public", "generations", "text", "updated_at"))
                [index] = failure_rate_indexes(conn)
                for phase in PHASES:
                    if phase == "with":
                        started = time.perf_counter()
                        conn.execute(index.sql)
                        built = time.perf_counter() - started
                    else:
                        conn.execute(
                            sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(index.name))
                        )
                    conn.execute("VACUUM ANALYZE generations")
                    # Every phase starts after a checkpoint, so each pays the same full-page
                    # images in its WAL.
                    conn.execute("CHECKPOINT")
                    plan = measure(conn, query, RATE_PARAMS)
                    inserts, updates = writes(conn, f"{phase}-{len(results)}", options.writes)
                    results.append((phase, plan, inserts, updates))
                size = conn.execute(
                    "SELECT pg_relation_size(to_regclass(%s))", (index.name,)
                ).fetchone()
    finally:
        drop_role(role)
    print(f"{options.rows:,} rows; {options.writes:,} inserts and updates per phase")
    print(f"index {index.name}: built in {built:.1f} s, {(size or (0,))[0] / 2**20:.1f} MiB")
    print()
    print(
        "| index | aggregate: time | aggregate: plan | inserts/s | WAL/insert "
        "| updates/s | WAL/update |"
    )
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for phase, plan, ins, upd in results:
        print(
            f"| {phase} | {plan} | {ins.per_second:,.0f} | {ins.wal_per_row:.0f} B "
            f"| {upd.per_second:,.0f} | {upd.wal_per_row:.0f} B |"
        )


if __name__ == "__main__":
    main()
