-- Dehydrated devices (MSC3814): a device a client parks on the server,
-- encrypted with a key only the user holds, so that to-device messages
-- (room keys) sent while all their devices are offline are not lost. At
-- most one per user; it is an ordinary device otherwise, without an
-- access token, and goes with it.

CREATE TABLE dehydrated_devices (
    user_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    device_data TEXT NOT NULL,         -- canonical JSON, opaque to the server
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
