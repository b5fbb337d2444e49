-- The console's time patterns read the failures of a window (24 h, 7 d) by arrival time
-- and count them by category, model, user and error. This index holds every column
-- those counts read, so a window is one range scan that never visits the table.
CREATE INDEX failures_received ON failures (received_at, category, model_id, user_id, fingerprint);
