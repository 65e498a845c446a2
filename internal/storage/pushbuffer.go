package storage

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// pushFlushEvery is how long changes to the unread totals may wait in
// memory before a commit writes them out.
const pushFlushEvery = 200 * time.Millisecond

// maxPendingTotals makes a commit write the totals out sooner.
const maxPendingTotals = 4096

// pushKey identifies one running total of push_counts.
type pushKey struct{ user, room, thread string }

// pushTotal is the change events make to one total: reset by the user's
// own event at readPos (when reset), and then increased.
type pushTotal struct {
	reset                     bool
	readPos                   int64
	notifications, highlights int64
}

// pushTotals are changes to running totals, in first-seen order (so that
// they are written deterministically).
type pushTotals struct {
	byKey map[pushKey]*pushTotal
	order []pushKey
}

func newPushTotals() *pushTotals { return &pushTotals{byKey: map[pushKey]*pushTotal{}} }

func (p *pushTotals) get(k pushKey) *pushTotal {
	t, ok := p.byKey[k]
	if !ok {
		t = &pushTotal{}
		p.byKey[k] = t
		p.order = append(p.order, k)
	}
	return t
}

// read restarts k's total after pos: the user's own event reads the
// thread up to it.
func (p *pushTotals) read(k pushKey, pos int64) { *p.get(k) = pushTotal{reset: true, readPos: pos} }

func (p *pushTotals) notify(k pushKey, highlight bool) {
	t := p.get(k)
	t.notifications++
	if highlight {
		t.highlights++
	}
}

// merge applies newer, later changes on top of p.
func (p *pushTotals) merge(newer *pushTotals) {
	for _, k := range newer.order {
		n := newer.byKey[k]
		if n.reset {
			*p.get(k) = *n
			continue
		}
		t := p.get(k)
		t.notifications += n.notifications
		t.highlights += n.highlights
	}
}

// apply returns the count after these changes of one whose stored total
// is n, hl.
func (t *pushTotal) apply(n, hl int64) (int64, int64) {
	if t.reset {
		return t.notifications, t.highlights
	}
	return n + t.notifications, hl + t.highlights
}

// pushBuffer holds the changes to push_counts that commits made since it
// was last written. Commits store only push_events rows, the durable
// record; writing a dozen totals per event per commit was 40% of
// PostgreSQL's statement time sending messages (pg_stat_statements). A
// later commit writes the accumulated changes, one upsert per total, with
// the position they reach in push_counts_progress; after a crash, Open
// replays the push_events rows beyond it.
//
// Readers combine the table with the buffer. rw keeps them from doing so
// while the table is being rewritten from the buffer (a flushing commit, a
// read receipt); mu guards the buffer itself, so commits that only add to
// it never wait for readers.
type pushBuffer struct {
	rw sync.RWMutex

	mu        sync.Mutex
	pending   *pushTotals
	upTo      int64 // the last position whose changes are in pending or the table
	lastFlush time.Time
	every     time.Duration
}

func newPushBuffer() *pushBuffer {
	return &pushBuffer{pending: newPushTotals(), every: pushFlushEvery}
}

// due reports whether a commit, with changes of its own or not, should
// write the totals out.
func (b *pushBuffer) due(now time.Time, changes bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.pending.order)
	return (n > 0 || changes) && (now.Sub(b.lastFlush) >= b.every || n >= maxPendingTotals)
}

// take empties the buffer, for a write of its changes; give them back
// with restore if the write fails.
func (b *pushBuffer) take() (*pushTotals, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.pending
	b.pending = newPushTotals()
	return p, b.upTo
}

func (b *pushBuffer) restore(p *pushTotals) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p.merge(b.pending)
	b.pending = p
}

// add buffers a durable batch's changes.
func (b *pushBuffer) add(changes *pushTotals, pos int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending.merge(changes)
	b.upTo = max(b.upTo, pos)
}

// flushed records that the table holds everything up to pos.
func (b *pushBuffer) flushed(pos int64, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.upTo = max(b.upTo, pos)
	b.lastFlush = now
}

// forUser returns the buffered changes to user's totals in rooms.
func (b *pushBuffer) forUser(user string, rooms map[string]bool) map[pushKey]pushTotal {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[pushKey]pushTotal{}
	for _, k := range b.pending.order {
		if k.user == user && rooms[k.room] {
			out[k] = *b.pending.byKey[k]
		}
	}
	return out
}

// pushCommit is a batch's part in the unread totals: its changes and,
// now and then, everything buffered, written out with the batch.
type pushCommit struct {
	b        *pushBuffer
	changes  *pushTotals
	last     int64       // the batch's last position
	prev     *pushTotals // the buffer taken to be written out, or nil
	combined *pushTotals // prev and changes
}

// commit prepares a batch's changes. When it is time to write the totals
// out, readers are held off until done.
func (b *pushBuffer) commit(notes []pushEvent, last int64) *pushCommit {
	c := &pushCommit{b: b, changes: newPushTotals(), last: last}
	for i := range notes {
		notes[i].addTo(c.changes)
	}
	if b.due(time.Now(), len(c.changes.order) > 0) {
		b.rw.Lock()
		c.prev, _ = b.take()
		c.combined = newPushTotals()
		c.combined.merge(c.prev)
		c.combined.merge(c.changes)
	}
	return c
}

// write adds the totals to the batch's transaction, if it writes them.
func (c *pushCommit) write(ctx context.Context, w execer) error {
	if c.combined == nil {
		return nil
	}
	return writePushTotals(ctx, w, c.combined, c.last)
}

// done settles the buffer once the batch's transaction ended with err.
func (c *pushCommit) done(err error) {
	switch {
	case c.combined != nil:
		defer c.b.rw.Unlock()
		if err != nil {
			c.b.restore(c.prev)
		} else {
			c.b.flushed(c.last, time.Now())
		}
	case err == nil:
		c.b.add(c.changes, c.last)
	}
}

// writePushTotals adds changes to push_counts and records that it holds
// every notification up to pos.
func writePushTotals(ctx context.Context, w execer, changes *pushTotals, pos int64) error {
	if err := updatePushCounts(ctx, w, changes); err != nil {
		return err
	}
	if err := w.exec(ctx, `UPDATE push_counts_progress SET stream_pos = $1 WHERE id = 1 AND stream_pos < $1`, pos); err != nil {
		return fmt.Errorf("record unread totals position: %w", err)
	}
	return nil
}

// recoverPushCounts replays into push_counts the push_events rows a crash
// kept from being written out, and readies the buffer.
func (db *DB) recoverPushCounts(ctx context.Context) error {
	err := db.WriteTx(ctx, func(tx *Tx) error {
		var from, last int64
		err := tx.QueryRow(ctx, `SELECT p.stream_pos, COALESCE((SELECT MAX(stream_pos) FROM events), 0)
			FROM push_counts_progress p WHERE p.id = 1`).Scan(&from, &last)
		if err != nil {
			return err
		}
		changes, err := replayPushEvents(ctx, tx, from)
		if err != nil {
			return err
		}
		db.counts.upTo = max(from, last)
		return writePushTotals(ctx, tx, changes, db.counts.upTo)
	})
	if err != nil {
		return fmt.Errorf("recover unread counts: %w", err)
	}
	return nil
}

// replayPushEvents rebuilds the changes of the push_events rows after pos.
func replayPushEvents(ctx context.Context, tx *Tx, pos int64) (*pushTotals, error) {
	rows, err := tx.Query(ctx, `SELECT stream_pos, room_id, thread_id, users, highlighted, reader FROM push_events
		WHERE stream_pos > $1 ORDER BY stream_pos`, pos)
	if err != nil {
		return nil, err
	}
	changes := newPushTotals()
	err = scanRows(rows, func() error {
		var ev pushEvent
		var users, highlighted string
		if err := rows.Scan(&ev.pos, &ev.room, &ev.thread, &users, &highlighted, &ev.reader); err != nil {
			return err
		}
		ev.users, ev.highlighted = strings.Fields(users), strings.Fields(highlighted)
		ev.addTo(changes)
		return nil
	})
	return changes, err
}
