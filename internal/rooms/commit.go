package rooms

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/axonhs/axon/internal/storage"
)

// maxBatch bounds how many events share one transaction.
const maxBatch = 256

// errHeadChanged fails a write whose room head was reloaded after it was
// built: an earlier event it builds on was never committed.
var errHeadChanged = errors.New("rooms: an earlier event of the room failed to commit")

// write is one event waiting to be committed.
type write struct {
	room *room
	gen  uint64 // the room generation the event was built on
	row  storage.PersistEvent
	// done receives the outcome once the event is durable (or is not).
	done chan error
	// settled is closed, and err set, once the sender has the outcome;
	// retries of the same transaction wait on it.
	settled chan struct{}
	err     error
}

// Committed describes one durable event, for whoever waits on streams.
type Committed struct {
	Pos      int64
	RoomID   string
	EventID  string
	Type     string
	StateKey *string
	// Membership is set for m.room.member events.
	Membership string
}

// committer writes events to the database in batches: whatever queued
// while the previous transaction was committing goes into the next one, so
// concurrent senders share one durable commit (group commit). It alone
// assigns stream positions, in commit order.
type committer struct {
	db      *storage.DB
	log     *slog.Logger
	queue   chan *write
	lastPos int64        // owned by run
	pos     atomic.Int64 // lastPos, published after each durable batch
	// durable is called with each durable batch before its position is
	// published, so that caches of stored events are current for anyone
	// who reads up to it.
	durable func([]*write)
	// onCommit is called, in stream order, after each durable batch.
	onCommit func([]Committed)
	stopOnce sync.Once
	stopped  chan struct{}
}

func newCommitter(db *storage.DB, log *slog.Logger, lastPos int64, onCommit func([]Committed)) *committer {
	c := &committer{db: db, log: log, queue: make(chan *write, 4*maxBatch), lastPos: lastPos, onCommit: onCommit, stopped: make(chan struct{})}
	c.pos.Store(lastPos)
	return c
}

// position is the highest durable stream position.
func (c *committer) position() int64 { return c.pos.Load() }

// enqueue hands w to the committer. The caller holds w.room.mu, so a
// room's events enter the queue in the order they were built.
func (c *committer) enqueue(w *write) {
	c.queue <- w
}

// maxLinger bounds how long the committer waits, after a commit, for the
// senders it has just answered to send again, so that their writes share
// the next commit instead of each waiting for one of their own.
const maxLinger = 400 * time.Microsecond

// run commits batches until the queue is closed.
//
// Under load, a commit answers the senders of its batch while the writes
// that came meanwhile wait in the queue; the answered senders come back
// a moment later. Committing at once would split them into small
// batches, each paying the database's whole commit latency, so for a
// short while after a commit the next batch waits until it is as large as
// the queue plus the batch just answered. Without load nothing waits: the
// first write after the linger finds an idle committer.
func (c *committer) run() {
	defer close(c.stopped)
	batch := make([]*write, 0, maxBatch)
	linger := time.NewTimer(maxLinger)
	linger.Stop()
	want, until := 0, time.Time{}
	for w := range c.queue {
		batch = append(batch[:0], w)
		batch = c.drain(batch)
		if len(batch) < want {
			if wait := time.Until(until); wait > 0 {
				linger.Reset(wait)
				batch = c.gather(batch, want, linger)
			}
		}
		c.commit(batch)
		want = min(len(batch)+len(c.queue), maxBatch)
		until = time.Now().Add(maxLinger)
	}
}

// drain adds to batch what is queued, without waiting.
func (c *committer) drain(batch []*write) []*write {
	for len(batch) < maxBatch {
		select {
		case w, ok := <-c.queue:
			if !ok {
				return batch
			}
			batch = append(batch, w)
		default:
			return batch
		}
	}
	return batch
}

// gather adds writes to batch until it holds want of them or the linger
// timer fires; the timer is stopped when gather returns (since Go 1.23 a
// stopped timer delivers nothing stale).
func (c *committer) gather(batch []*write, want int, linger *time.Timer) []*write {
	defer linger.Stop()
	for len(batch) < want {
		select {
		case w, ok := <-c.queue:
			if !ok {
				return batch
			}
			batch = append(batch, w)
		case <-linger.C:
			return batch
		}
	}
	return batch
}

// stop commits what is queued and returns when the committer has exited.
// No enqueue may follow; stopping again does nothing.
func (c *committer) stop() {
	c.stopOnce.Do(func() { close(c.queue) })
	<-c.stopped
}

func (c *committer) commit(batch []*write) {
	live := batch[:0:0]
	rows := make([]storage.PersistEvent, 0, len(batch))
	pos := c.lastPos
	for _, w := range batch {
		if !c.current(w) {
			w.done <- errHeadChanged
			continue
		}
		pos++
		w.row.Event.Pos = pos
		live = append(live, w)
		rows = append(rows, w.row)
	}
	if len(live) == 0 {
		return
	}
	// A commit must not be abandoned half-way because one sender's request
	// was cancelled: the batch belongs to everyone in it.
	err := c.db.PersistEvents(context.Background(), rows)
	if err != nil {
		c.log.Error("commit events", "events", len(rows), "err", err)
		for _, w := range live {
			// The room's head includes this event: make its next writer
			// reload the head from the database. Taking the room's lock here
			// could deadlock with a writer blocked on a full queue.
			w.room.gen.CompareAndSwap(w.gen, w.gen+1)
			w.done <- err
		}
		return
	}
	c.lastPos = pos
	if c.durable != nil {
		c.durable(live)
	}
	c.pos.Store(pos)
	committed := make([]Committed, len(live))
	for i, w := range live {
		ev := &w.row.Event
		committed[i] = Committed{Pos: ev.Pos, RoomID: ev.RoomID, EventID: ev.EventID, Type: ev.Type, StateKey: ev.StateKey, Membership: w.row.Membership}
	}
	if c.onCommit != nil {
		c.onCommit(committed)
	}
	for _, w := range live {
		w.done <- nil
	}
}

// current reports whether w was built on its room's current head.
func (c *committer) current(w *write) bool { return w.room.gen.Load() == w.gen }
