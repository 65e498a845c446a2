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
	// maxInFlight is how many batches may commit at once.
	maxInFlight int
	stopOnce    sync.Once
	stopped     chan struct{}
}

func newCommitter(db *storage.DB, log *slog.Logger, lastPos int64, onCommit func([]Committed)) *committer {
	c := &committer{db: db, log: log, queue: make(chan *write, 4*maxBatch), lastPos: lastPos, onCommit: onCommit, maxInFlight: 1, stopped: make(chan struct{})}
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

// flight is a batch being committed.
type flight struct {
	live  []*write
	first int64 // its positions are first..last
	last  int64
	err   error
	done  chan struct{} // closed when its transaction has ended
	// settled is closed by storage once the batch's part in the unread
	// totals is settled; the next batch settles after it.
	settled chan struct{}
}

// run commits batches until the queue is closed and everything queued is
// committed.
//
// Up to maxInFlight batches commit at once (PostgreSQL: the next batch's
// statements run while the previous one waits for its commit), as long as
// no room is in two of them: a room's events depend on each other (prev
// events, extremities, state groups), events of different rooms do not.
// Batches still finish in the order they were started, so positions are
// published in order.
//
// Under load, a commit answers the senders of its batch while the writes
// that came meanwhile wait; the answered senders come back a moment later.
// Committing at once would split them into small batches, each paying the
// database's whole commit latency, so for a short while after a commit,
// when nothing else is committing, the next batch waits until it is as
// large as what waits plus the batch just answered. Without load nothing
// waits: the first write after the linger finds an idle committer.
func (c *committer) run() {
	defer close(c.stopped)
	var (
		waiting []*write  // queued, not yet in a batch, in queue order
		flights []*flight // in start order
		busy    = map[*room]bool{}
		queue   = c.queue // nil once closed
		want    int
		until   time.Time
	)
	linger := time.NewTimer(maxLinger)
	linger.Stop()
	lingering := false
	for queue != nil || len(waiting) > 0 || len(flights) > 0 {
		if !lingering {
			for len(flights) < c.maxInFlight {
				if len(flights) == 0 && len(waiting) < want && queue != nil {
					if wait := time.Until(until); wait > 0 {
						linger.Reset(wait)
						lingering = true
						break
					}
				}
				batch := takeBatch(&waiting, busy)
				if len(batch) == 0 {
					break
				}
				var after chan struct{}
				if len(flights) > 0 {
					after = flights[len(flights)-1].settled
				}
				flights = append(flights, c.start(batch, after, busy))
			}
		}
		var finished <-chan struct{}
		if len(flights) > 0 {
			finished = flights[0].done
		}
		var lingered <-chan time.Time
		if lingering {
			lingered = linger.C
		}
		select {
		case w, ok := <-queue:
			if !ok {
				queue = nil
				if lingering {
					linger.Stop()
					lingering = false
				}
				continue
			}
			waiting = c.drain(append(waiting, w))
			if lingering && len(waiting) >= want {
				linger.Stop()
				lingering = false
			}
		case <-finished:
			f := flights[0]
			flights = flights[1:]
			c.finish(f, busy, len(flights) == 0)
			want = min(len(f.live)+len(waiting)+len(c.queue), maxBatch)
			until = time.Now().Add(maxLinger)
		case <-lingered:
			lingering = false
		}
	}
}

// takeBatch takes from waiting, in order, up to maxBatch writes of rooms
// no batch in flight holds.
func takeBatch(waiting *[]*write, busy map[*room]bool) []*write {
	var batch []*write
	rest := (*waiting)[:0]
	for _, w := range *waiting {
		if len(batch) < maxBatch && !busy[w.room] {
			batch = append(batch, w)
		} else {
			rest = append(rest, w)
		}
	}
	clear((*waiting)[len(rest):])
	*waiting = rest
	return batch
}

// drain adds to batch what is queued, without waiting.
func (c *committer) drain(batch []*write) []*write {
	for len(batch) < 4*maxBatch {
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

// stop commits what is queued and returns when the committer has exited.
// No enqueue may follow; stopping again does nothing.
func (c *committer) stop() {
	c.stopOnce.Do(func() { close(c.queue) })
	<-c.stopped
}

// start gives batch its positions and commits it in the background; after
// is the settled channel of the batch before it still in flight, if any.
// A write built on a head that has since been reloaded fails at once.
func (c *committer) start(batch []*write, after chan struct{}, busy map[*room]bool) *flight {
	f := &flight{first: c.lastPos + 1, done: make(chan struct{}), settled: make(chan struct{})}
	rows := make([]storage.PersistEvent, 0, len(batch))
	pos := c.lastPos
	for _, w := range batch {
		if !c.current(w) {
			w.done <- errHeadChanged
			continue
		}
		pos++
		w.row.Event.Pos = pos
		f.live = append(f.live, w)
		rows = append(rows, w.row)
		busy[w.room] = true
	}
	c.lastPos, f.last = pos, pos
	// A commit must not be abandoned half-way because one sender's request
	// was cancelled: the batch belongs to everyone in it.
	go func() {
		f.err = c.db.PersistEventsAfter(context.Background(), rows, after, f.settled)
		close(f.done)
	}()
	return f
}

// finish settles a flight whose transaction has ended, in start order:
// its rooms are free again, and its senders hear the outcome once the
// events are durable and their position is published. last says no later
// batch has started.
func (c *committer) finish(f *flight, busy map[*room]bool, last bool) {
	for _, w := range f.live {
		delete(busy, w.room)
	}
	if len(f.live) == 0 {
		return
	}
	if f.err != nil {
		c.log.Error("commit events", "events", len(f.live), "err", f.err)
		if last {
			c.lastPos = f.first - 1 // nothing later took a position: reuse them
		}
		for _, w := range f.live {
			// The room's head includes this event: make its next writer
			// reload the head from the database. Taking the room's lock here
			// could deadlock with a writer blocked on a full queue.
			w.room.gen.CompareAndSwap(w.gen, w.gen+1)
			w.done <- f.err
		}
		return
	}
	if c.durable != nil {
		c.durable(f.live)
	}
	c.pos.Store(f.last)
	committed := make([]Committed, len(f.live))
	for i, w := range f.live {
		ev := &w.row.Event
		committed[i] = Committed{Pos: ev.Pos, RoomID: ev.RoomID, EventID: ev.EventID, Type: ev.Type, StateKey: ev.StateKey, Membership: w.row.Membership}
	}
	if c.onCommit != nil {
		c.onCommit(committed)
	}
	for _, w := range f.live {
		w.done <- nil
	}
}

// current reports whether w was built on its room's current head.
func (c *committer) current(w *write) bool { return w.room.gen.Load() == w.gen }
