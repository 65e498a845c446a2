-- Session lifetime, expired-token cleanup, and per-user rate-limit
-- overrides.

-- session_lifetime: when the session a refresh token belongs to ends,
-- carried from token to token on every refresh so that refreshing cannot
-- extend it. NULL: the session can be refreshed forever.
ALTER TABLE refresh_tokens ADD COLUMN ultimate_session_expiry_ts BIGINT;

-- The periodic cleanup of expired tokens looks rows up by expiry; most
-- access tokens never expire, so only expiring ones are indexed.
CREATE INDEX access_tokens_expires ON access_tokens (expires_ts) WHERE expires_ts IS NOT NULL;
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_ts) WHERE expires_ts IS NOT NULL;

-- Synapse's ratelimit_override, set with the admin API
-- (/_synapse/admin/v1/users/<user_id>/override_ratelimit). A
-- messages_per_second of 0 (or NULL, as Synapse reads it) exempts the user
-- from rate limits; otherwise both values replace rc_message's for them.
CREATE TABLE ratelimit_override (
    user_id TEXT PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
    messages_per_second BIGINT,
    burst_count BIGINT
);
