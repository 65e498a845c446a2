package storage

import "time"

// SetPushFlushEvery sets how long changes to the unread totals wait in
// memory before a commit writes them out (0: every commit does).
func (db *DB) SetPushFlushEvery(d time.Duration) {
	db.counts.mu.Lock()
	defer db.counts.mu.Unlock()
	db.counts.every = d
}
