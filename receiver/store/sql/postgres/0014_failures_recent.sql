-- The spike rule's one aggregate (store/rules.py failure_counts) reads the last day of
-- failures each evaluation: this index holds every column it reads, so it never visits
-- the table (BENCHMARKS.md).
CREATE INDEX IF NOT EXISTS failures_recent ON failures (received_at, category, model_id, kind);
