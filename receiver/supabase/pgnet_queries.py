"""What the sweep reads of pg_net to judge the webhook path.

Supabase's dashboard webhook (`supabase_functions.http_request`, the full variant of
`failwatch sql webhook`) notes each call in `supabase_functions.hooks` with pg_net's
request id; pg_net notes each answer, or its absence, in `net._http_response`, and keeps
what it has not sent yet in `net.http_request_queue`. The slim variant calls pg_net
directly and leaves no hook row, so only the queue can be watched for it.

Hook rows are read after a cursor (the last hook id with an answer), so each delivery is
counted once. Reading these tables needs the grants the README lists.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from receiver.supabase.sweep_queries import SourceReader

# The trigger names `failwatch sql webhook` creates (deploy/sql/webhook.sql).
HOOK_NAMES = ("failwatch_failed_insert", "failwatch_failed_update")

# Present *and readable*: without the grants the check is skipped, never an error that
# would end the sweep (pg_class is readable by every role).
PRESENT = sql.SQL(
    "SELECT count(*) = 3 AS present FROM pg_class AS c "
    "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
    "WHERE (n.nspname, c.relname) IN (('supabase_functions', 'hooks'), "
    "('net', '_http_response'), ('net', 'http_request_queue')) "
    "AND has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT')"
)

DELIVERIES = sql.SQL(
    "SELECT "
    "count(*) FILTER (WHERE r.status_code BETWEEN 200 AND 299) AS ok, "
    "count(*) FILTER (WHERE r.status_code IS NOT NULL AND r.status_code NOT BETWEEN 200 AND 299)"
    "  AS failed, "
    "count(*) FILTER (WHERE r.status_code IS NULL AND r.error_msg ~* 'time(d)?[ _-]?out')"
    "  AS timeouts, "
    "count(*) FILTER (WHERE r.status_code IS NULL AND r.error_msg !~* 'time(d)?[ _-]?out' "
    "  OR r.status_code IS NULL AND r.error_msg IS NULL) AS errors, "
    "max(h.id) AS answered_up_to "
    "FROM supabase_functions.hooks AS h JOIN net._http_response AS r ON r.id = h.request_id "
    "WHERE h.hook_name = ANY(%(names)s) AND h.id > %(after)s"
)

QUEUE = sql.SQL("SELECT count(*) AS queued FROM net.http_request_queue")

# pg_net's background worker is a process of the server: `backend_type` is its bgworker
# type ("pg_net 0.12.0 worker"; "pg_net worker" in old releases), and newer releases
# also report it as their `application_name`. Every role sees every session's
# application_name, but another role's backend_type only with pg_read_all_stats: without
# that grant and without the name, absence proves nothing (NULL: unknown). The worker
# that serves this database's queue is connected to this database.
WORKER = sql.SQL(
    "SELECT CASE "
    "WHEN bool_or(backend_type LIKE 'pg\\_net%%worker' "
    "  OR application_name LIKE 'pg\\_net%%worker') THEN true "
    "WHEN pg_has_role('pg_read_all_stats', 'USAGE') THEN false "
    "END AS running "
    "FROM pg_stat_activity WHERE datname = current_database()"
)


@dataclass(frozen=True, slots=True)
class Deliveries:
    ok: int
    failed: int
    timeouts: int
    errors: int
    queue: int
    answered_up_to: int | None
    worker_running: bool | None


async def pgnet_present(reader: SourceReader) -> bool:
    rows = await reader.fetch(PRESENT, {})
    return bool(rows[0]["present"])


async def read_deliveries(reader: SourceReader, *, after: int) -> Deliveries:
    row = (await reader.fetch(DELIVERIES, {"names": list(HOOK_NAMES), "after": after}))[0]
    queue = (await reader.fetch(QUEUE, {}))[0]
    worker = (await reader.fetch(WORKER, {}))[0]
    return Deliveries(
        ok=int(row["ok"]),
        failed=int(row["failed"]),
        timeouts=int(row["timeouts"]),
        errors=int(row["errors"]),
        queue=int(queue["queued"]),
        answered_up_to=None if row["answered_up_to"] is None else int(row["answered_up_to"]),
        worker_running=worker["running"],
    )
