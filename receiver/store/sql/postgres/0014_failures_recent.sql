-- The spike rule's aggregate (store/rules.py failure_counts) reads the last day of
-- failures at each evaluation: this index holds every column it reads, so the scan
-- never visits the table.
CREATE INDEX IF NOT EXISTS failures_recent ON failures (received_at, category, model_id, kind);
