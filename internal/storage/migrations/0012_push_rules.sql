-- Push rules and unread notification counts.
--
-- The server-default rules live in code; what is stored is what a user
-- changed: their own rules, and the enabled flag or actions of a default
-- rule. Unread counts are one row per (user, notifying event) until a read
-- receipt (or the user's own event) passes it, so a receipt for any event
-- clears exactly the notifications up to it.

CREATE TABLE push_rules (
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    kind TEXT NOT NULL,                 -- override, content, room, sender, underride
    rule_id TEXT NOT NULL,
    position INTEGER NOT NULL,          -- evaluation order among the user's rules of the kind, 0 first
    conditions TEXT,                    -- JSON array (override and underride rules)
    pattern TEXT,                       -- content rules
    actions TEXT NOT NULL,              -- JSON array, as the client sent it
    enabled BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, kind, rule_id)
);

-- A user's changes to a server-default rule; NULL keeps the default.
CREATE TABLE push_rule_defaults (
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    enabled BOOLEAN,
    actions TEXT,
    PRIMARY KEY (user_id, kind, rule_id)
);

-- Events whose push rules said "notify" for a local user, not read yet.
CREATE TABLE push_notifications (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,            -- 'main' or the thread's root event
    stream_pos BIGINT NOT NULL,         -- of the event
    highlight BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, room_id, stream_pos)
);

-- How far a user has read a room: from read receipts (thread_id '' for an
-- unthreaded receipt, which covers every thread) and the user's own events.
-- Counting skips notifications at or before the mark, so a notification
-- written after a receipt that already passed it never counts.
CREATE TABLE push_read_marks (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    stream_pos BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id, thread_id)
);

-- The event stream position up to which push rules have been evaluated,
-- so a restart resumes where the last run stopped (one row).
CREATE TABLE push_progress (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    stream_pos BIGINT NOT NULL
);
