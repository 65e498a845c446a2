-- Unread counts kept as running totals.
--
-- Push rules are now evaluated as each event is built, and its
-- notifications are stored in the transaction that stores the event, so
-- read marks and the evaluation progress are no longer needed: a receipt
-- deletes the notifications it passes, and what remains is unread.
-- push_counts sums push_notifications per (user, room, thread), so /sync
-- reads one row per room instead of counting every unread event.

CREATE TABLE push_counts (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,            -- 'main' or the thread's root event
    notifications BIGINT NOT NULL,
    highlights BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id, thread_id)
);

DELETE FROM push_notifications WHERE stream_pos <= COALESCE((SELECT MAX(m.stream_pos) FROM push_read_marks m
    WHERE m.user_id = push_notifications.user_id AND m.room_id = push_notifications.room_id
    AND (m.thread_id = '' OR m.thread_id = push_notifications.thread_id)), 0);

INSERT INTO push_counts (user_id, room_id, thread_id, notifications, highlights)
SELECT user_id, room_id, thread_id, COUNT(*), SUM(CASE WHEN highlight THEN 1 ELSE 0 END)
FROM push_notifications GROUP BY user_id, room_id, thread_id;

DROP TABLE push_read_marks;
DROP TABLE push_progress;
