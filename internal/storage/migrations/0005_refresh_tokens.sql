-- Refresh tokens (MSC2918, /refresh). Like access tokens they are stored
-- only as SHA-256 digests, and belong to a device: deleting the device
-- (logout, device deletion, password change, deactivation) deletes them.
--
-- A refresh rotates: the old token's next_token_id names its successor,
-- and the old token is deleted once the successor's access token is used
-- or the successor is itself refreshed (the spec's "remains valid until
-- the new access token or refresh token is used").

CREATE TABLE refresh_tokens (
    id {{autoincrement_pk}},
    token_hash {{bytes}} NOT NULL UNIQUE,  -- SHA-256 of the token
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    created_ts BIGINT NOT NULL,
    expires_ts BIGINT,                     -- NULL: does not expire (refresh_token_lifetime unset)
    next_token_id BIGINT REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

CREATE INDEX refresh_tokens_user_device ON refresh_tokens (user_id, device_id);
CREATE INDEX refresh_tokens_next ON refresh_tokens (next_token_id);

-- The refresh token an access token was issued with: revoking that refresh
-- token revokes the access token. used is set on the access token's first
-- use, which revokes the refresh token it replaced.
ALTER TABLE access_tokens ADD COLUMN refresh_token_id BIGINT REFERENCES refresh_tokens (id) ON DELETE CASCADE;
ALTER TABLE access_tokens ADD COLUMN used BOOLEAN NOT NULL DEFAULT FALSE;

CREATE INDEX access_tokens_refresh_token ON access_tokens (refresh_token_id);
