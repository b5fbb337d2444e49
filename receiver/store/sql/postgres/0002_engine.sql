-- The alerting engine: groups of failures, their errors and users, silences, the outbox.

-- How far the dispatcher has read the failures table (one row).
CREATE TABLE IF NOT EXISTS dispatch_cursor (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq BIGINT NOT NULL
);
INSERT INTO dispatch_cursor (id, last_seq) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;

-- One row per group (route + receiver + group_by labels); `episode` counts its openings.
CREATE TABLE IF NOT EXISTS groups (
    group_key         TEXT PRIMARY KEY,
    route_id          TEXT NOT NULL,
    receiver          TEXT NOT NULL,
    labels            TEXT NOT NULL,
    episode           INTEGER NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    opened_at         DOUBLE PRECISION NOT NULL,
    first_seen        DOUBLE PRECISION NOT NULL,
    last_seen         DOUBLE PRECISION NOT NULL,
    -- Latest failure counted, or latest release of held ones: quiet time starts here.
    last_active       DOUBLE PRECISION NOT NULL,
    episode_failures  INTEGER NOT NULL DEFAULT 0,
    pending           INTEGER NOT NULL DEFAULT 0,
    pending_since     DOUBLE PRECISION,
    silenced_failures INTEGER NOT NULL DEFAULT 0,
    flushes           INTEGER NOT NULL DEFAULT 0,
    last_flush_at     DOUBLE PRECISION,
    due_at            DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS groups_due ON groups (due_at) WHERE status = 'open';

-- Distinct errors (fingerprints) of an episode; `notified` once a flush carried it.
CREATE TABLE IF NOT EXISTS group_errors (
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

CREATE TABLE IF NOT EXISTS group_users (
    group_key TEXT NOT NULL,
    episode   INTEGER NOT NULL,
    user_id   TEXT NOT NULL,
    PRIMARY KEY (group_key, episode, user_id)
);

CREATE TABLE IF NOT EXISTS silences (
    id         TEXT PRIMARY KEY,
    matchers   TEXT NOT NULL,
    starts_at  DOUBLE PRECISION NOT NULL,
    ends_at    DOUBLE PRECISION NOT NULL,
    comment    TEXT NOT NULL,
    author     TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expired_at DOUBLE PRECISION
);

-- Failures a silence held back from a group; released into it when the silence ends.
-- `until` copies the silence's end (or the time it was expired), so finding what to
-- release is an index range scan however much is held.
CREATE TABLE IF NOT EXISTS held (
    group_key  TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    silence_id TEXT NOT NULL,
    until      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (group_key, seq)
);
CREATE INDEX IF NOT EXISTS held_until ON held (until);
CREATE INDEX IF NOT EXISTS held_silence ON held (silence_id);

-- Notifications to deliver, one row per integration. Written in the same transaction
-- as the group change that caused them; `stream` orders the flushes of one episode.
CREATE TABLE IF NOT EXISTS outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notification_id TEXT NOT NULL,
    stream          TEXT NOT NULL,
    receiver        TEXT NOT NULL,
    integration     TEXT NOT NULL,
    destination     TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      DOUBLE PRECISION NOT NULL,
    due_at          DOUBLE PRECISION NOT NULL,
    claimed_by      TEXT,
    claimed_until   DOUBLE PRECISION,
    sent_at         DOUBLE PRECISION,
    last_error      TEXT,
    UNIQUE (notification_id, integration)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (due_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS outbox_stream ON outbox (stream, id) WHERE status = 'pending';

-- What a notifier asked us to remember for later flushes of a stream (Slack ts, ...).
CREATE TABLE IF NOT EXISTS threads (
    stream TEXT PRIMARY KEY,
    refs   TEXT NOT NULL
);

-- A destination that answered 429 waits until `until`, across all its streams.
CREATE TABLE IF NOT EXISTS destination_pauses (
    destination TEXT PRIMARY KEY,
    until       DOUBLE PRECISION NOT NULL
);

-- Token buckets per destination, shared by every worker (and every replica).
CREATE TABLE IF NOT EXISTS destination_buckets (
    destination TEXT PRIMARY KEY,
    tokens      DOUBLE PRECISION NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL
);
