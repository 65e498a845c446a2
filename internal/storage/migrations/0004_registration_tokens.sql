-- Registration tokens (Synapse's registration_tokens), managed through the
-- admin API and spent by the m.login.registration_token stage of /register.

CREATE TABLE registration_tokens (
    token TEXT PRIMARY KEY,         -- [A-Za-z0-9._~-]{1,64}, case-sensitive
    uses_allowed BIGINT,            -- NULL: unlimited
    completed BIGINT NOT NULL DEFAULT 0,
    expiry_time BIGINT              -- ms since the epoch; NULL: never expires
);

-- A token held by a registration in progress: one row per User-Interactive
-- Authentication session that completed the token stage. A token's pending
-- count is the number of its unexpired rows, so reservations of sessions
-- that are abandoned (or outlive a restart) stop counting on their own.
CREATE TABLE registration_token_reservations (
    session_id TEXT PRIMARY KEY,
    token TEXT NOT NULL REFERENCES registration_tokens (token) ON DELETE CASCADE,
    expires_ts BIGINT NOT NULL
);

CREATE INDEX registration_token_reservations_token ON registration_token_reservations (token, expires_ts);
