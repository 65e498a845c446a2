-- The last presence of every user that ever had one. Changes worth
-- telling other users about are written at once with the next position of
-- the presence stream; activity that only moves timestamps while a user
-- stays "currently active" is kept in memory and written at shutdown (as
-- Synapse does), so /sync is not a database write per request.

CREATE TABLE presence (
    user_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,                -- online, unavailable, offline
    status_msg TEXT,
    last_active_ts BIGINT NOT NULL,     -- ms; 0 if never active
    last_user_sync_ts BIGINT NOT NULL,  -- ms
    currently_active BOOLEAN NOT NULL,
    stream_pos BIGINT NOT NULL
);

CREATE INDEX presence_stream_pos ON presence (stream_pos);
