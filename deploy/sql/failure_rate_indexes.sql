-- failwatch: the index the failure-rate and flatline rules need (`failwatch db setup
-- --failure-rate`): finished generations (completed or failed) by the time they finished.
--
-- Unlike the other indexes, this one holds nearly every row of `generations`, so every
-- insert or update of a finished row also writes one index entry (about the cost of one
-- more b-tree index on a timestamp). Without it the sweep's aggregate reads the table.
-- `failwatch db setup --failure-rate` builds the one that fits the table: by updated_at
-- when the table has it, else by created_at.

CREATE INDEX CONCURRENTLY IF NOT EXISTS failwatch_generations_finished_updated_at
  ON public.generations (updated_at) WHERE status IN ('completed', 'failed');

CREATE INDEX CONCURRENTLY IF NOT EXISTS failwatch_generations_finished_created_at
  ON public.generations (created_at) WHERE status IN ('completed', 'failed');
