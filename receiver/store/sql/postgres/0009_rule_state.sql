-- State of the rate rules between sweeps (receiver/loops/rates.py): one row per rule and
-- scope (a model id, or '*' for the whole table).
CREATE TABLE IF NOT EXISTS rule_state (
    rule         TEXT NOT NULL,
    scope        TEXT NOT NULL,
    pending      INTEGER NOT NULL DEFAULT 0,
    calm         INTEGER NOT NULL DEFAULT 0,
    -- When the current firing started (NULL when not firing); names its alert.
    firing_since DOUBLE PRECISION,
    -- The last message recorded for the firing, so an unchanged one is not sent again.
    message      TEXT,
    evaluated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (rule, scope)
);
