-- Unread totals written behind the events.
--
-- push_counts is no longer updated by every commit: a commit stores its
-- push_events rows, and the totals' changes are kept in memory and written
-- out by a later commit (every 200 ms at most) or by a read receipt. After
-- a crash, the push_events after push_counts_progress.stream_pos are
-- replayed. To replay a user's own event, which restarts their count, its
-- row names them as the reader; such an event gets a row even when it
-- notifies nobody.

ALTER TABLE push_events ADD COLUMN reader TEXT NOT NULL DEFAULT '';

CREATE TABLE push_counts_progress (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    stream_pos BIGINT NOT NULL          -- push_counts holds every push_events row up to here
);
INSERT INTO push_counts_progress (id, stream_pos) SELECT 1, COALESCE(MAX(stream_pos), 0) FROM events;
