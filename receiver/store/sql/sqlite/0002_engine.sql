-- The alerting engine: groups of failures, their errors and users, silences, the outbox.

-- How far the dispatcher has read the failures table (one row).
CREATE TABLE dispatch_cursor (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq INTEGER NOT NULL
);
INSERT INTO dispatch_cursor (id, last_seq) VALUES (1, 0);

-- One row per group (route + receiver + group_by labels); `episode` counts its openings.
CREATE TABLE groups (
    group_key         TEXT PRIMARY KEY,
    route_id          TEXT NOT NULL,
    receiver          TEXT NOT NULL,
    labels            TEXT NOT NULL,
    episode           INTEGER NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    opened_at         REAL NOT NULL,
    first_seen        REAL NOT NULL,
    last_seen         REAL NOT NULL,
    -- Latest failure counted, or latest release of held ones: quiet time starts here.
    last_active       REAL NOT NULL,
    episode_failures  INTEGER NOT NULL DEFAULT 0,
    pending           INTEGER NOT NULL DEFAULT 0,
    pending_since     REAL,
    silenced_failures INTEGER NOT NULL DEFAULT 0,
    flushes           INTEGER NOT NULL DEFAULT 0,
    last_flush_at     REAL,
    due_at            REAL
);
CREATE INDEX groups_due ON groups (due_at) WHERE status = 'open';

-- Distinct errors (fingerprints) of an episode; `notified` once a flush carried it.
CREATE TABLE group_errors (
    group_key   TEXT NOT NULL,
    episode     INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    message     TEXT NOT NULL,
    error_type  TEXT,
    model_id    TEXT,
    sample_generation_id TEXT,
    count       INTEGER NOT NULL,
    pending     INTEGER NOT NULL,
    notified    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_key, episode, fingerprint)
);

CREATE TABLE group_users (
    group_key TEXT NOT NULL,
    episode   INTEGER NOT NULL,
    user_id   TEXT NOT NULL,
    PRIMARY KEY (group_key, episode, user_id)
);

CREATE TABLE silences (
    id         TEXT PRIMARY KEY,
    matchers   TEXT NOT NULL,
    starts_at  REAL NOT NULL,
    ends_at    REAL NOT NULL,
    comment    TEXT NOT NULL,
    author     TEXT NOT NULL,
    created_at REAL NOT NULL,
    expired_at REAL
);

-- Failures a silence held back from a group; released into it when the silence ends.
-- `until` copies the silence's end (or the time it was expired), so finding what to
-- release is an index range scan however much is held.
CREATE TABLE held (
    group_key  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    silence_id TEXT NOT NULL,
    until      REAL NOT NULL,
    PRIMARY KEY (group_key, seq)
);
CREATE INDEX held_until ON held (until);
CREATE INDEX held_silence ON held (silence_id);

-- Notifications to deliver, one row per integration. Written in the same transaction
-- as the group change that caused them; `stream` orders the flushes of one episode.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id TEXT NOT NULL,
    stream          TEXT NOT NULL,
    receiver        TEXT NOT NULL,
    integration     TEXT NOT NULL,
    destination     TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      REAL NOT NULL,
    due_at          REAL NOT NULL,
    claimed_by      TEXT,
    claimed_until   REAL,
    sent_at         REAL,
    last_error      TEXT,
    UNIQUE (notification_id, integration)
);
CREATE INDEX outbox_due ON outbox (due_at) WHERE status = 'pending';
CREATE INDEX outbox_stream ON outbox (stream, id) WHERE status = 'pending';

-- What a notifier asked us to remember for later flushes of a stream (Slack ts, ...).
CREATE TABLE threads (
    stream TEXT PRIMARY KEY,
    refs   TEXT NOT NULL
);

-- A destination that answered 429 waits until `until`, across all its streams.
CREATE TABLE destination_pauses (
    destination TEXT PRIMARY KEY,
    until       REAL NOT NULL
);

-- Token buckets per destination, shared by every worker (and every replica).
CREATE TABLE destination_buckets (
    destination TEXT PRIMARY KEY,
    tokens      REAL NOT NULL,
    updated_at  REAL NOT NULL
);
