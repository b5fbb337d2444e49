-- State of the database sweeps (receiver/loops/sweeper.py).

-- Who runs the sweeps: one holder at a time, until expires_at (epoch seconds) unless renewed.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at REAL NOT NULL
);

-- Where a sweep stopped, e.g. the source database's clock at the last missed-failure sweep.
CREATE TABLE cursors (
    name  TEXT PRIMARY KEY,
    value REAL NOT NULL
);

-- Generations reported stuck and not yet seen leaving `processing`.
CREATE TABLE stuck_open (
    generation_id TEXT PRIMARY KEY,
    since         REAL NOT NULL
);

-- Which stuck generations a group holds, so it resolves once all have left `processing`.
CREATE TABLE group_members (
    group_key     TEXT NOT NULL,
    episode       INTEGER NOT NULL,
    generation_id TEXT NOT NULL,
    cleared       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_key, episode, generation_id)
);
CREATE INDEX group_members_generation ON group_members (generation_id);
