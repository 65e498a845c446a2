-- Server-side key backups (/room_keys/...): each user's backup versions
-- and the encrypted room keys stored in them.

-- A version is never reused: a new one is one more than the highest the
-- user ever had, so a deleted version keeps its row (deleted = TRUE)
-- and its keys are removed. etag counts the changes to the version's
-- keys; clients compare it to notice other devices' uploads.
CREATE TABLE backup_versions (
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    algorithm TEXT NOT NULL,
    auth_data {{bytes}} NOT NULL,       -- JSON object, as the client sent it (compacted)
    etag BIGINT NOT NULL DEFAULT 0,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, version)
);

-- One key per session and version. The primary key's prefix (user_id,
-- version) serves counts, whole-version reads and the foreign key.
CREATE TABLE backup_keys (
    user_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    room_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    first_message_index BIGINT NOT NULL,
    forwarded_count BIGINT NOT NULL,
    is_verified BOOLEAN NOT NULL,
    session_data {{bytes}} NOT NULL,    -- JSON object, opaque to the server (compacted)
    PRIMARY KEY (user_id, version, room_id, session_id),
    FOREIGN KEY (user_id, version) REFERENCES backup_versions (user_id, version) ON DELETE CASCADE
);
