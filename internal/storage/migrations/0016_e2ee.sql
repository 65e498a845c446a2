-- End-to-end encryption: what the server stores and routes for clients
-- that encrypt. Keys are stored as the canonical JSON the client uploaded
-- (the bytes are then both the comparison for re-uploads and the answer
-- to queries). Per-device rows go with their device (ON DELETE CASCADE),
-- so every path that deletes a device deletes its keys and inbox too.

CREATE TABLE device_keys (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    ts_added_ms BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id),
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

-- One-time keys are handed out oldest first (MSC4225): id is the upload
-- order.
CREATE TABLE one_time_keys (
    id {{autoincrement_pk}},
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    UNIQUE (user_id, device_id, algorithm, key_id),
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

CREATE INDEX one_time_keys_claim ON one_time_keys (user_id, device_id, algorithm, id);

-- At most one fallback key per device and algorithm. A claim marks it
-- used but keeps it: it is what a device without one-time keys offers.
CREATE TABLE fallback_keys (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, device_id, algorithm),
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

-- The current cross-signing key of each type of a user.
CREATE TABLE cross_signing_keys (
    user_id TEXT NOT NULL,
    key_type TEXT NOT NULL CHECK (key_type IN ('master', 'self_signing', 'user_signing')),
    public_key TEXT NOT NULL,
    key_json TEXT NOT NULL,
    PRIMARY KEY (user_id, key_type)
);

-- Every cross-signing public key a user ever had: they share the
-- namespace of device IDs (a key ID names either), so no device may take
-- one's name.
CREATE TABLE cross_signing_key_ids (
    user_id TEXT NOT NULL,
    public_key TEXT NOT NULL,
    PRIMARY KEY (user_id, public_key)
);

-- Signatures uploaded apart from the keys they sign (/keys/signatures/upload):
-- by a user's devices on their master key, by the self-signing key on
-- their devices, and by the user-signing key on other users' master keys.
CREATE TABLE cross_signing_signatures (
    signer_user_id TEXT NOT NULL,
    signer_key_id TEXT NOT NULL,       -- ed25519:<device ID or public key>
    target_user_id TEXT NOT NULL,
    target_key_id TEXT NOT NULL,       -- a device ID or a cross-signing public key
    signature TEXT NOT NULL,
    PRIMARY KEY (signer_user_id, target_user_id, target_key_id, signer_key_id)
);

CREATE INDEX cross_signing_signatures_target ON cross_signing_signatures (target_user_id, target_key_id);

-- The device-list stream: each (user, device or cross-signing key) with
-- the position of its latest change. Rows outlive their devices: a
-- deletion is itself a change others must hear of.
CREATE TABLE device_list_changes (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    stream_pos BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);

CREATE INDEX device_list_changes_pos ON device_list_changes (stream_pos);

-- Also on the device-list stream: a user signed other users' master keys.
-- Only the signer is told (their own device lists change in their eyes).
CREATE TABLE user_signature_changes (
    signer_user_id TEXT NOT NULL,
    target_user_id TEXT NOT NULL,
    stream_pos BIGINT NOT NULL,
    PRIMARY KEY (signer_user_id, target_user_id)
);

CREATE INDEX user_signature_changes_pos ON user_signature_changes (signer_user_id, stream_pos);

-- To-device messages waiting for their device, in arrival order. A
-- message is deleted when the device's next sync acknowledges it.
CREATE TABLE to_device_inbox (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    stream_pos BIGINT NOT NULL,
    message_json TEXT NOT NULL,   -- {"content", "sender", "type"}
    PRIMARY KEY (user_id, device_id, stream_pos),
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

-- Transaction IDs of /sendToDevice requests, so that a retry sends
-- nothing twice. Pruned after a day.
CREATE TABLE to_device_txns (
    user_id TEXT NOT NULL,
    sender_key TEXT NOT NULL,          -- the sending device ID, or the token for device-less ones
    txn_key TEXT NOT NULL,             -- event type and transaction ID
    created_ts BIGINT NOT NULL,
    PRIMARY KEY (user_id, sender_key, txn_key)
);

CREATE INDEX to_device_txns_created ON to_device_txns (created_ts);

-- The highest position of streams whose rows are deleted (the to-device
-- inbox), so that a restart never hands out a position twice.
CREATE TABLE stream_positions (
    stream TEXT PRIMARY KEY,
    pos BIGINT NOT NULL
);
