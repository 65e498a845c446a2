-- Rooms and their events.
--
-- Every accepted event gets a stream position: one global counter, assigned
-- in commit order, so "everything after position N" is a single range scan
-- and a sync token is a handful of integers. Room state is stored as state
-- groups: a group is either a full snapshot or a delta on a previous group
-- (chains are kept short), so storage grows with state changes rather than
-- with events times members.

CREATE TABLE rooms (
    room_id TEXT PRIMARY KEY,
    room_version TEXT NOT NULL,
    creator TEXT NOT NULL,
    published BOOLEAN NOT NULL DEFAULT FALSE, -- listed in the public room directory
    created_ts BIGINT NOT NULL
);

CREATE TABLE state_groups (
    group_id BIGINT PRIMARY KEY,
    room_id TEXT NOT NULL REFERENCES rooms (room_id),
    prev_group BIGINT,                  -- NULL: a full snapshot
    chain_length INTEGER NOT NULL       -- deltas between this group and its snapshot
);

CREATE TABLE state_group_entries (
    group_id BIGINT NOT NULL,
    type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (group_id, type, state_key)
);

CREATE TABLE events (
    stream_pos BIGINT PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL REFERENCES rooms (room_id),
    type TEXT NOT NULL,
    state_key TEXT,                     -- NULL for message events
    sender TEXT NOT NULL,
    depth BIGINT NOT NULL,
    origin_server_ts BIGINT NOT NULL,
    state_group BIGINT NOT NULL,        -- the room state after this event
    redacted_by TEXT,                   -- the redaction applied to pdu, if any
    replaces_state TEXT,                -- the state event this one replaced, for unsigned.prev_content
    device_id TEXT,                     -- the local sender's device, for unsigned.transaction_id
    txn_id TEXT,
    pdu {{bytes}} NOT NULL              -- canonical JSON of the PDU (redacted when redacted_by is set)
);

CREATE INDEX events_room_pos ON events (room_id, stream_pos);
CREATE INDEX events_room_ts ON events (room_id, origin_server_ts); -- timestamp_to_event

-- The room's current state, for lookups that should not walk state groups.
CREATE TABLE current_state (
    room_id TEXT NOT NULL REFERENCES rooms (room_id),
    type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (room_id, type, state_key)
);

-- Current membership of every user (local or remote) in every room: which
-- rooms a user is in is one index scan.
CREATE TABLE memberships (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL REFERENCES rooms (room_id),
    membership TEXT NOT NULL,
    event_id TEXT NOT NULL,
    stream_pos BIGINT NOT NULL,         -- of the membership event
    forgotten BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, room_id)
);

CREATE INDEX memberships_room ON memberships (room_id, membership);

-- The room's forward extremities: events with no children yet, which the
-- next event names as prev_events.
CREATE TABLE forward_extremities (
    room_id TEXT NOT NULL REFERENCES rooms (room_id),
    event_id TEXT NOT NULL,
    PRIMARY KEY (room_id, event_id)
);

-- Transaction IDs of client sends, for idempotent retries. The spec scopes
-- a transaction ID to a device and an endpoint path (scope, e.g.
-- "send/!room:server/m.room.message").
CREATE TABLE event_txns (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    created_ts BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id, scope, txn_id)
);

CREATE TABLE room_aliases (
    alias TEXT PRIMARY KEY,
    room_id TEXT NOT NULL REFERENCES rooms (room_id),
    creator TEXT NOT NULL
);

CREATE INDEX room_aliases_room ON room_aliases (room_id);

-- Account data joins the sync streams.
ALTER TABLE account_data ADD COLUMN stream_pos BIGINT NOT NULL DEFAULT 0;
CREATE INDEX account_data_user_pos ON account_data (user_id, stream_pos);
