-- State of the database sweeps (receiver/loops/sweeper.py).

-- Who runs the sweeps: one holder at a time, until expires_at (epoch seconds) unless renewed.
CREATE TABLE IF NOT EXISTS leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);

-- Where a sweep stopped, e.g. the source database's clock at the last missed-failure sweep.
CREATE TABLE IF NOT EXISTS cursors (
    name  TEXT PRIMARY KEY,
    value DOUBLE PRECISION NOT NULL
);

-- Generations reported stuck and not yet seen leaving `processing`.
CREATE TABLE IF NOT EXISTS stuck_open (
    generation_id TEXT PRIMARY KEY,
    since         DOUBLE PRECISION NOT NULL
);

-- Which stuck generations a group holds, so it resolves once all have left `processing`.
CREATE TABLE IF NOT EXISTS group_members (
    group_key     TEXT NOT NULL,
    episode       INTEGER NOT NULL,
    generation_id TEXT NOT NULL,
    cleared       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_key, episode, generation_id)
);
CREATE INDEX IF NOT EXISTS group_members_generation ON group_members (generation_id);
