-- The console's counts (issue 16): failures per bucket and key, folded in from the
-- failures table after a cursor, so that a page over 24 h or 7 d reads a few thousand
-- rows however many failures there are. `dimension` names what `key` is and the
-- bucket size, e.g. `model_id/300`: category and model_id per 5 minutes and per hour
-- (the charts), category_model per hour (`category:model_id`, the incidents'
-- sparklines; a category never holds a colon), user_id and fingerprint per day (many
-- keys). `store/reports.py` says which.
CREATE TABLE failure_rollup (
    dimension TEXT NOT NULL,
    bucket    REAL NOT NULL,
    key       TEXT NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (dimension, bucket, key)
);

-- How far the rollup has read the failures table (one row).
CREATE TABLE rollup_cursor (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq BIGINT NOT NULL
);
INSERT INTO rollup_cursor (id, last_seq) VALUES (1, 0);

-- The newest text of each distinct error, for the console's top errors.
CREATE TABLE error_samples (
    fingerprint TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL,
    category    TEXT NOT NULL,
    model_id    TEXT,
    message     TEXT NOT NULL
);

-- The silence editor's preview reads the newest failures of the last 24 h through
-- failures_received, made by 0008 (retention) for the pruner (failures_recent since 0015).
