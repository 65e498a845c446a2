-- Per-user data that clients read and write: profile fields, account data
-- (global and per room, including room tags as m.tag), and sync filters.

CREATE TABLE profile_fields (
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    field TEXT NOT NULL,            -- displayname, avatar_url, m.tz, or a namespaced key (MSC4133)
    value TEXT NOT NULL,            -- the field's JSON value, canonical
    PRIMARY KEY (user_id, field)
);

CREATE TABLE account_data (
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    room_id TEXT NOT NULL,          -- '' for global account data
    type TEXT NOT NULL,
    content TEXT NOT NULL,          -- JSON object
    updated_ts BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id, type)
);

CREATE TABLE filters (
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    filter_id BIGINT NOT NULL,
    filter TEXT NOT NULL,           -- JSON object as validated at upload
    PRIMARY KEY (user_id, filter_id)
);
