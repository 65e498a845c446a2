-- Unread counts kept as running totals.
--
-- Push rules are now evaluated as each event is built, and its
-- notifications are stored in the transaction that stores the event. A
-- row per (user, event) spread every commit over as many index pages as
-- there were recipients; instead each notifying event gets one row naming
-- the users it notifies (appended in stream order), and push_counts keeps
-- each user's totals per room and thread, so /sync reads one row per room
-- whatever the backlog. A read receipt recounts from push_events after
-- it; the user's own event resets the totals.

CREATE TABLE push_counts (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,            -- 'main' or the thread's root event
    notifications BIGINT NOT NULL,
    highlights BIGINT NOT NULL,
    read_pos BIGINT NOT NULL,           -- counted from after this stream position
    PRIMARY KEY (user_id, room_id, thread_id)
);

CREATE TABLE push_events (
    stream_pos BIGINT PRIMARY KEY,
    room_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    users TEXT NOT NULL,                -- the local users notified, space-separated
    highlighted TEXT NOT NULL           -- those of them highlighted, space-separated
);
CREATE INDEX push_events_room ON push_events (room_id, thread_id, stream_pos);

-- Carry over what is unread.
INSERT INTO push_counts (user_id, room_id, thread_id, notifications, highlights, read_pos)
SELECT n.user_id, n.room_id, n.thread_id, COUNT(*), SUM(CASE WHEN n.highlight THEN 1 ELSE 0 END), 0
FROM push_notifications n
WHERE n.stream_pos > COALESCE((SELECT MAX(m.stream_pos) FROM push_read_marks m
    WHERE m.user_id = n.user_id AND m.room_id = n.room_id AND (m.thread_id = '' OR m.thread_id = n.thread_id)), 0)
GROUP BY n.user_id, n.room_id, n.thread_id;

DROP TABLE push_notifications;
DROP TABLE push_read_marks;
DROP TABLE push_progress;
