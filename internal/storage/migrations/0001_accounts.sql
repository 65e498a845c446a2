-- Accounts: users, their devices, and access tokens.
-- Timestamps are milliseconds since the Unix epoch, as in Synapse.

CREATE TABLE users (
    user_id TEXT PRIMARY KEY,          -- full Matrix ID, @localpart:server
    password_hash TEXT,                -- NULL: no password login
    is_admin BOOLEAN NOT NULL DEFAULT FALSE,
    user_type TEXT,                    -- NULL for ordinary users; 'bot', 'support', ...
    is_guest BOOLEAN NOT NULL DEFAULT FALSE,
    deactivated BOOLEAN NOT NULL DEFAULT FALSE,
    created_ts BIGINT NOT NULL
);

-- Case-insensitive lookups (login with a differently-cased user ID).
-- Not unique: case-only duplicates can exist on servers migrated from Synapse.
CREATE INDEX users_lower_user_id ON users (lower(user_id));

CREATE TABLE devices (
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    display_name TEXT,
    created_ts BIGINT NOT NULL,
    last_seen_ts BIGINT,
    last_seen_ip TEXT,
    last_seen_user_agent TEXT,
    PRIMARY KEY (user_id, device_id)
);

CREATE TABLE access_tokens (
    id {{autoincrement_pk}},
    token_hash {{bytes}} NOT NULL UNIQUE,  -- SHA-256 of the token; the token itself is never stored
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    device_id TEXT,                        -- NULL for tokens not tied to a device
    created_ts BIGINT NOT NULL,
    expires_ts BIGINT,                     -- NULL: does not expire
    -- Deleting a device logs it out.
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

CREATE INDEX access_tokens_user_device ON access_tokens (user_id, device_id);
