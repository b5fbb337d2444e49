-- Storm control: the cap on open groups, the cap on notifications per receiver, and
-- the delivery order (a new incident's first message before every update).

-- A group's category (the scope of the cap on open groups) and whether it is a route's
-- overflow group, which collects the failures of groups beyond the cap.
ALTER TABLE groups ADD COLUMN category TEXT NOT NULL DEFAULT '';
ALTER TABLE groups ADD COLUMN overflow INTEGER NOT NULL DEFAULT 0;
CREATE INDEX groups_open_scope ON groups (route_id, category) WHERE status = 'open';

-- The groups an overflow group stands for, by episode (named in its messages).
CREATE TABLE folded (
    group_key  TEXT NOT NULL,
    episode    INTEGER NOT NULL,
    member_key TEXT NOT NULL,
    name       TEXT NOT NULL,
    first_seen REAL NOT NULL,
    PRIMARY KEY (group_key, episode, member_key)
);

-- 0 for the first message of a new incident, 1 for everything else: claimed in this
-- order, then oldest first.
ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 1;
CREATE INDEX outbox_claim ON outbox (priority, due_at, id) WHERE status = 'pending';

-- Each receiver's notification budget: `used` notifications since `window_start`.
CREATE TABLE receiver_budgets (
    receiver     TEXT PRIMARY KEY,
    window_start REAL NOT NULL,
    used         INTEGER NOT NULL
);

-- Updates held back by a receiver's budget, one row per group (merged as they come),
-- until the digest that lists them is written.
CREATE TABLE digest_items (
    receiver         TEXT NOT NULL,
    group_key        TEXT NOT NULL,
    title            TEXT NOT NULL,
    reason           TEXT NOT NULL,
    window_failures  INTEGER NOT NULL,
    episode_failures INTEGER NOT NULL,
    held_at          REAL NOT NULL,
    PRIMARY KEY (receiver, group_key)
);
