-- Login tokens (m.login.token): short-lived and single-use, issued by
-- POST /login/get_token. Stored only as SHA-256 digests; used_ts marks a
-- spent token so a second login with it fails.

CREATE TABLE login_tokens (
    token_hash {{bytes}} PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created_ts BIGINT NOT NULL,
    expires_ts BIGINT NOT NULL,
    used_ts BIGINT
);

CREATE INDEX login_tokens_user ON login_tokens (user_id);
CREATE INDEX login_tokens_expires ON login_tokens (expires_ts);
