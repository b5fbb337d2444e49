"""EXPLAIN ANALYZE of the guide's and the sweeps' queries on a large `generations` table,
with and without failwatch's indexes, as a Markdown table for BENCHMARKS.md.

    python -m tests.supabase.explain_report [--rows 1000000]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import psycopg
from psycopg import sql

from receiver.supabase.apply import apply_setup
from receiver.supabase.setup_sql import index_statements, setup_body
from tests.postgres import scratch_database
from tests.supabase.large_table import seed_large_table
from tests.supabase.support import drop_role, load_guide_schema, unique_role
from tests.supabase.test_index_plans import GUIDE_QUERIES, plan_nodes


def measure(conn: psycopg.Connection[Any], query: sql.Composable, params: dict[str, Any]) -> str:
    best: tuple[float, str] | None = None
    for _ in range(3):  # the best of three: warm cache, least disturbed by other load
        row = conn.execute(
            sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) {}").format(query), params
        ).fetchone()
        assert row is not None
        plan = row[0][0]
        scans = [
            n.get("Index Name") or n["Node Type"]
            for n in plan_nodes(plan["Plan"])
            if n.get("Relation Name") == "generations" or "Index Name" in n
        ]
        result = (float(plan["Execution Time"]), ", ".join(dict.fromkeys(scans)))
        best = result if best is None or result[0] < best[0] else best
    assert best is not None
    return f"{best[0]:.2f} ms | {best[1]}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    role = unique_role()
    try:
        with scratch_database("fw_explain") as dsn:
            load_guide_schema(dsn)
            started = time.perf_counter()
            seed_large_table(dsn, rows=rows)
            seeded = time.perf_counter() - started
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(setup_body(reader_role=role))  # the view, not the indexes yet
                before = {name: measure(conn, q, p) for name, q, p, _ in GUIDE_QUERIES}
                started = time.perf_counter()
                apply_setup(conn, reader_role=role, report=lambda line: None)
                built = time.perf_counter() - started
                conn.execute("ANALYZE generations")
                after = {name: measure(conn, q, p) for name, q, p, _ in GUIDE_QUERIES}
                sizes = conn.execute(
                    "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) "
                    "FROM pg_index WHERE indexrelid::regclass::text = ANY(%s)",
                    ([i.name for i in index_statements()],),
                ).fetchall()
                table_size = conn.execute("SELECT pg_relation_size('generations')").fetchone()
    finally:
        drop_role(role)
    print(f"{rows:,} rows seeded in {seeded:.1f} s; setup with indexes applied in {built:.1f} s")
    print(
        f"table: {(table_size or (0,))[0] / 2**20:.0f} MiB; indexes: "
        + ", ".join(f"{name} {size / 2**10:.0f} KiB" for name, size in sizes)
    )
    print()
    print("| query | without: time | without: plan | with: time | with: plan |")
    print("| --- | ---: | --- | ---: | --- |")
    for name, *_ in GUIDE_QUERIES:
        print(f"| {name} | {before[name]} | {after[name]} |")


if __name__ == "__main__":
    main()
