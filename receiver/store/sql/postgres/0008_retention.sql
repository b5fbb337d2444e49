-- Retention: the pruner picks the oldest failures by arrival, through this index, so a
-- pass costs what it deletes, not the size of the table.
CREATE INDEX IF NOT EXISTS failures_received ON failures (received_at);
-- ...and skips the failures a silence still holds, looked up by their seq.
CREATE INDEX IF NOT EXISTS held_seq ON held (seq);
