-- The latest failure of a generation, looked up for each report of it (a later report
-- of the same failure fills it in rather than adding a row: loops/record.py).
CREATE INDEX IF NOT EXISTS failures_generation ON failures (generation_id, kind, seq);
