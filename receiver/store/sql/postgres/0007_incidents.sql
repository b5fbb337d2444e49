-- Incidents: one episode of one group, with what people did about it (acknowledge,
-- mute, resolve), and the actions that did it.

-- `id` is `<group_key>-<episode>`. The live counters of the current episode are on its
-- `groups` row; `failures`, `first_seen` and `last_seen` are copied here when the
-- episode ends, because the next episode starts the group's counters over.
CREATE TABLE IF NOT EXISTS incidents (
    id          TEXT PRIMARY KEY,
    group_key   TEXT NOT NULL,
    episode     INTEGER NOT NULL,
    receiver    TEXT NOT NULL,
    labels      TEXT NOT NULL,
    category    TEXT,
    model_id    TEXT,
    opened_at   DOUBLE PRECISION NOT NULL,
    failures    INTEGER,
    first_seen  DOUBLE PRECISION,
    last_seen   DOUBLE PRECISION,
    resolved_at DOUBLE PRECISION,
    resolved_by TEXT,
    acked_at    DOUBLE PRECISION,
    acked_by    TEXT,
    silence_id  TEXT,
    muted_by    TEXT,
    UNIQUE (group_key, episode)
);
CREATE INDEX IF NOT EXISTS incidents_opened ON incidents (opened_at);

-- Every action that changed an incident, and who took it from where. A Slack retry of
-- the same click (same user, same `action_ts`) hits the unique key and changes nothing.
CREATE TABLE IF NOT EXISTS actions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id TEXT NOT NULL,
    action      TEXT NOT NULL,
    argument    TEXT,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    team        TEXT,
    action_ts   TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('slack', 'api', 'cli')),
    created_at  DOUBLE PRECISION NOT NULL,
    UNIQUE (source, actor_id, action_ts)
);
CREATE INDEX IF NOT EXISTS actions_incident ON actions (incident_id, id);

-- Every episode the groups table knows of today (older ones left no trace).
INSERT INTO incidents (id, group_key, episode, receiver, labels, category, model_id,
                       opened_at, failures, first_seen, last_seen, resolved_at)
SELECT group_key || '-' || episode, group_key, episode, receiver, labels,
       labels::json ->> 'category', labels::json ->> 'model_id', opened_at,
       CASE WHEN status = 'resolved' THEN episode_failures END,
       CASE WHEN status = 'resolved' THEN first_seen END,
       CASE WHEN status = 'resolved' THEN last_seen END,
       CASE WHEN status = 'resolved' THEN last_active END
FROM groups
ON CONFLICT (id) DO NOTHING;
