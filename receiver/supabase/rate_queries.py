"""The one aggregate query the rate rules run on the source database each sweep.

Per model, it counts the generations that *finished* (`completed` or `failed`) and those
that failed, in the failure-rate window and in the same window a day earlier, and the
finished ones in the flatline window and the same window a day earlier — one scan of the
index `failwatch db setup --failure-rate` adds (terminal rows by time).

Which time says "finished": `updated_at` when the table has it (the row's last change is
its end). Without it, only `created_at` is known, so the windows end `lag` seconds ago
(`stuck_after`): generations created before then have had the time to finish, and those
created since are not yet counted as finished or failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from receiver.supabase.sweep_queries import SourceReader, SourceTable

TERMINAL = ("completed", "failed")
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class ModelCounts:
    """One model's counts (model `''` for rows without a model id)."""

    model_id: str
    finished: int
    failed: int
    base_finished: int
    base_failed: int
    flat_finished: int
    flat_base_finished: int


def lag_for(table: SourceTable, stuck_after: float) -> float:
    """How far back the windows end: now with `updated_at`, else `stuck_after` ago."""
    return 0.0 if table.change_column == "updated_at" else stuck_after


def window_counts(table: SourceTable) -> sql.Composed:
    """Counts per model. Parameters: %(rate_window)s, %(flat_window)s, %(lag)s seconds."""
    ts = sql.Identifier(table.change_column)
    return sql.SQL(
        "WITH b AS (SELECT now() - make_interval(secs => %(lag)s) AS t_end) "
        "SELECT coalesce(g.model_id::text, '') AS model_id, "
        "count(*) FILTER (WHERE g.{ts} >= b.t_end - make_interval(secs => %(rate_window)s) "
        "  AND g.{ts} < b.t_end) AS finished, "
        "count(*) FILTER (WHERE g.{ts} >= b.t_end - make_interval(secs => %(rate_window)s) "
        "  AND g.{ts} < b.t_end AND g.status = 'failed') AS failed, "
        "count(*) FILTER (WHERE g.{ts} >= b.t_end - make_interval(secs => %(day)s + "
        "  %(rate_window)s) AND g.{ts} < b.t_end - make_interval(secs => %(day)s)) "
        "  AS base_finished, "
        "count(*) FILTER (WHERE g.{ts} >= b.t_end - make_interval(secs => %(day)s + "
        "  %(rate_window)s) AND g.{ts} < b.t_end - make_interval(secs => %(day)s) "
        "  AND g.status = 'failed') AS base_failed, "
        "count(*) FILTER (WHERE g.{ts} >= b.t_end - make_interval(secs => %(flat_window)s) "
        "  AND g.{ts} < b.t_end) AS flat_finished, "
        "count(*) FILTER (WHERE g.{ts} >= b.t_end - make_interval(secs => %(day)s + "
        "  %(flat_window)s) AND g.{ts} < b.t_end - make_interval(secs => %(day)s)) "
        "  AS flat_base_finished "
        "FROM {table} AS g, b "
        "WHERE g.status IN ('completed', 'failed') AND ("
        "  (g.{ts} >= b.t_end - make_interval(secs => greatest(%(rate_window)s, "
        "     %(flat_window)s)) AND g.{ts} < b.t_end) "
        "  OR (g.{ts} >= b.t_end - make_interval(secs => %(day)s + greatest(%(rate_window)s, "
        "     %(flat_window)s)) AND g.{ts} < b.t_end - make_interval(secs => %(day)s))) "
        "GROUP BY 1 ORDER BY 1"
    ).format(ts=ts, table=table.name)


async def read_counts(
    reader: SourceReader,
    table: SourceTable,
    *,
    rate_window: float,
    flat_window: float,
    lag: float,
) -> list[ModelCounts]:
    rows = await reader.fetch(
        window_counts(table),
        {"rate_window": rate_window, "flat_window": flat_window, "lag": lag, "day": DAY},
    )
    return [
        ModelCounts(
            model_id=str(row["model_id"]),
            finished=int(row["finished"]),
            failed=int(row["failed"]),
            base_finished=int(row["base_finished"]),
            base_failed=int(row["base_failed"]),
            flat_finished=int(row["flat_finished"]),
            flat_base_finished=int(row["flat_base_finished"]),
        )
        for row in rows
    ]
