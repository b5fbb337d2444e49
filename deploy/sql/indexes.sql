-- failwatch: indexes for the guide's queries and for failwatch's sweeps.
--
-- Partial indexes hold only the failed or processing rows, a small share of `generations`,
-- so they stay small and cost the app's writes almost nothing.
--
-- CONCURRENTLY builds an index without blocking the app's inserts and updates (a plain
-- CREATE INDEX would, for as long as the build takes on a big table). It cannot run inside a
-- transaction block: run each statement on its own (`psql -f` and `failwatch db setup` do;
-- in the dashboard's SQL editor, run them one at a time). If a build is interrupted it
-- leaves an INVALID index behind that IF NOT EXISTS would keep; `failwatch db setup` drops
-- and rebuilds such an index.

-- Failed generations by time: the view and queries 1, 4, 6 of the guide, get_failure_stats.
CREATE INDEX CONCURRENTLY IF NOT EXISTS failwatch_generations_failed_created_at
  ON public.generations (created_at) WHERE status = 'failed';

-- Failed generations of one user (the guide's query 2 and the user-facing API).
CREATE INDEX CONCURRENTLY IF NOT EXISTS failwatch_generations_failed_user
  ON public.generations (user_id, created_at) WHERE status = 'failed';

-- Stuck generations: processing since before a threshold (the guide's query 3, the sweep).
CREATE INDEX CONCURRENTLY IF NOT EXISTS failwatch_generations_processing_created_at
  ON public.generations (created_at) WHERE status = 'processing';

-- Recently failed rows for the missed-failure sweep: a row created long ago may fail now,
-- which only updated_at shows. Skip this one if `generations` has no updated_at column.
CREATE INDEX CONCURRENTLY IF NOT EXISTS failwatch_generations_failed_updated_at
  ON public.generations (updated_at) WHERE status = 'failed';
