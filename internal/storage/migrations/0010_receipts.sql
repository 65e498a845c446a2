-- Read receipts (m.read, m.read.private) of local users. One receipt per
-- user, type and thread: a new one replaces the old, and only if it is
-- for a later event (as in Synapse), so a receipt never moves backwards.
-- Every change takes the next position of the receipts stream, which
-- /sync reads from.

CREATE TABLE receipts (
    room_id TEXT NOT NULL REFERENCES rooms (room_id),
    user_id TEXT NOT NULL,
    receipt_type TEXT NOT NULL,
    thread_id TEXT NOT NULL,            -- '' for an unthreaded receipt, else 'main' or a thread root
    event_id TEXT NOT NULL,
    event_pos BIGINT NOT NULL,          -- the event's stream position, to keep receipts moving forward
    ts BIGINT NOT NULL,                 -- when the receipt was sent, in ms
    stream_pos BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id, receipt_type, thread_id)
);

CREATE INDEX receipts_stream_pos ON receipts (stream_pos);
