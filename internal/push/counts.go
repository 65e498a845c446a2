package push

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/storage"
)

// MainThread is the thread ID of a room's main timeline (spec: threaded
// read receipts).
const MainThread = "main"

const (
	// chunkEvents bounds the events evaluated, and their results written,
	// per transaction.
	chunkEvents = 256
	// maxCachedRooms bounds the room states the worker keeps between
	// events.
	maxCachedRooms = 10000
	// maxCachedThreads bounds the remembered threads of recent events.
	maxCachedThreads = 100000
	// maxThreadHops bounds the relations followed to find an event's
	// thread (the spec recommends 3).
	maxThreadHops = 3
	// maxCountsWait bounds how long Counts waits for the worker to catch up
	// with the events committed before it was called.
	maxCountsWait = 5 * time.Second
	// retryDelay spaces out retries after a failed chunk.
	retryDelay = time.Second
)

// NotificationCounts is the unread_notifications object of /sync.
type NotificationCounts struct {
	NotificationCount int64 `json:"notification_count"`
	HighlightCount    int64 `json:"highlight_count"`
}

// Counts are a user's unread notifications in one room.
type Counts struct {
	Main    NotificationCounts            // the main timeline
	Threads map[string]NotificationCounts // by thread root; nil when there are none
}

// Total is the room's count over every thread, which /sync reports as
// unread_notifications unless the filter asks for
// unread_thread_notifications.
func (c Counts) Total() NotificationCounts {
	t := c.Main
	for _, n := range c.Threads {
		t.NotificationCount += n.NotificationCount
		t.HighlightCount += n.HighlightCount
	}
	return t
}

// worker evaluates push rules for every committed event, in stream order,
// from its own goroutine. The commit listener only records how far the
// stream has got and wakes the worker (a queue of one), so it never
// blocks; the worker reads the events back from the database. Progress is
// stored with the results, so a restart resumes where the last run
// stopped.
type worker struct {
	wake chan struct{}
	stop chan struct{}
	done chan struct{}

	target    atomic.Int64 // the highest committed position announced
	processed atomic.Int64 // results are durable up to here

	progressMu sync.Mutex
	progressCh chan struct{} // closed when processed advances

	// Owned by the worker goroutine.
	states  map[string]*rooms.PushState // each room's state at its last event
	threads map[string]string           // event ID → thread, for relations
}

// Start resumes evaluating events where the last run stopped (on the
// first run: at the current end of the stream; history is not
// evaluated). The rooms service must have started.
func (s *Service) Start(ctx context.Context) error {
	w := &s.w
	w.wake = make(chan struct{}, 1)
	w.stop = make(chan struct{})
	w.done = make(chan struct{})
	w.progressCh = make(chan struct{})
	w.states = map[string]*rooms.PushState{}
	w.threads = map[string]string{}
	s.rooms.OnCommit(s.committed) // before reading the position: nothing is missed
	pos, ok, err := s.db.PushProgress(ctx)
	if err != nil {
		return err
	}
	if !ok {
		pos = s.rooms.StreamPosition()
		if err := s.db.RecordPushResults(ctx, nil, nil, pos); err != nil {
			return err
		}
	}
	w.processed.Store(pos)
	w.target.Store(max(pos, s.rooms.StreamPosition()))
	go s.run()
	w.kick()
	return nil
}

// Stop evaluates what has been committed and stops the worker. Stop the
// rooms service first, so that nothing is committed afterwards.
func (s *Service) Stop() {
	if s.w.stop == nil {
		return
	}
	close(s.w.stop)
	<-s.w.done
	s.w.stop = nil
}

// committed is the rooms service's commit listener; it must not block.
func (s *Service) committed(batch []rooms.Committed) {
	if len(batch) == 0 {
		return
	}
	pos := batch[len(batch)-1].Pos
	for {
		cur := s.w.target.Load()
		if cur >= pos || s.w.target.CompareAndSwap(cur, pos) {
			break
		}
	}
	s.w.kick()
}

func (w *worker) kick() {
	select {
	case w.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

func (s *Service) run() {
	defer close(s.w.done)
	for {
		select {
		case <-s.w.wake:
			s.catchUp(false)
		case <-s.w.stop:
			s.catchUp(true)
			return
		}
	}
}

// catchUp evaluates events until the worker reaches the target. A failed
// chunk is retried after a pause; when stopping, it is given up (a
// restart resumes from the stored progress).
func (s *Service) catchUp(stopping bool) {
	ctx := context.Background()
	for {
		from, target := s.w.processed.Load(), s.w.target.Load()
		if from >= target {
			return
		}
		err := s.processChunk(ctx, from, target)
		if err == nil {
			continue
		}
		s.log.Error("evaluate push rules", "after", from, "err", err)
		if stopping {
			return
		}
		select {
		case <-time.After(retryDelay):
		case <-s.w.stop:
			return
		}
	}
}

// processChunk evaluates the events in (from, target], a chunk at a time,
// and stores the results with the new progress.
func (s *Service) processChunk(ctx context.Context, from, target int64) error {
	rows, err := s.db.EventsAfter(ctx, from, target, chunkEvents)
	if err != nil {
		return err
	}
	upTo := target
	if len(rows) == chunkEvents {
		upTo = rows[len(rows)-1].Pos
	}
	var notes []storage.PushNotification
	var marks []storage.PushReadMark
	for i := range rows {
		n, m, err := s.evaluate(ctx, &rows[i])
		if err != nil {
			// One event whose room cannot be read must not stop every
			// later notification: it notifies no one.
			s.log.Warn("evaluate push rules for an event", "event", rows[i].EventID, "err", err)
			continue
		}
		notes = append(notes, n...)
		marks = append(marks, m...)
	}
	if err := s.db.RecordPushResults(ctx, notes, marks, upTo); err != nil {
		return err
	}
	s.advance(upTo)
	return nil
}

func (s *Service) advance(pos int64) {
	s.w.processed.Store(pos)
	s.w.progressMu.Lock()
	defer s.w.progressMu.Unlock()
	close(s.w.progressCh)
	s.w.progressCh = make(chan struct{})
}

// evaluate runs the push rules of the event's recipients, and returns the
// notifications and the read mark of a local sender (the spec counts
// sending an event as reading up to it).
func (s *Service) evaluate(ctx context.Context, row *storage.EventRow) ([]storage.PushNotification, []storage.PushReadMark, error) {
	state, err := s.roomState(ctx, row)
	if err != nil {
		return nil, nil, err
	}
	recipients := s.recipients(row, state)
	senderLocal := s.isLocal(row.Sender)
	if len(recipients) == 0 && !senderLocal {
		return nil, nil, nil
	}
	thread, err := s.threadOf(ctx, row)
	if err != nil {
		return nil, nil, err
	}
	var marks []storage.PushReadMark
	if senderLocal {
		marks = append(marks, storage.PushReadMark{UserID: row.Sender, RoomID: row.RoomID, ThreadID: thread, Pos: row.Pos})
	}
	if len(recipients) == 0 {
		return nil, marks, nil
	}
	compiled, err := s.compiledFor(ctx, recipients)
	if err != nil {
		return nil, nil, err
	}
	ev := NewEvent(row.PDU, state)
	var notes []storage.PushNotification
	for _, u := range recipients {
		out := compiled[u].Evaluate(ev, state.DisplayName(u))
		if out.Notify {
			notes = append(notes, storage.PushNotification{UserID: u, RoomID: row.RoomID, ThreadID: thread, Pos: row.Pos, Highlight: out.Highlight})
		}
	}
	return notes, marks, nil
}

// roomState is the state after the event, built on the room's state at
// its previous event.
func (s *Service) roomState(ctx context.Context, row *storage.EventRow) (*rooms.PushState, error) {
	prev := s.w.states[row.RoomID]
	state, err := s.rooms.PushStateAt(ctx, row.RoomID, row.StateGroup, prev)
	if err != nil {
		return nil, err
	}
	if prev == nil && len(s.w.states) >= maxCachedRooms {
		clear(s.w.states)
	}
	s.w.states[row.RoomID] = state
	return state, nil
}

// recipients are the local users whose rules run for the event: the
// joined members except the sender. A membership event is evaluated for
// its target only, when that is another local user who is invited or in
// the room (as Synapse does, so joins in large rooms stay cheap).
func (s *Service) recipients(row *storage.EventRow, state *rooms.PushState) []string {
	if row.Type == "m.room.member" && row.StateKey != nil {
		target := *row.StateKey
		if target == row.Sender || !s.isLocal(target) {
			return nil
		}
		content, _ := rawjson.Lookup(row.PDU, "content")
		if m, _ := rawjson.LookupString(content, "membership"); m == "invite" || state.Joined(target) {
			return []string{target}
		}
		return nil
	}
	local := state.JoinedLocal()
	out := make([]string, 0, len(local))
	for _, u := range local {
		if u != row.Sender {
			out = append(out, u)
		}
	}
	return out
}

func (s *Service) isLocal(user string) bool { return strings.HasSuffix(user, ":"+s.serverName) }

// threadOf is the thread an event belongs to: the root of an m.thread
// relation, the thread of the event another relation points at (up to
// maxThreadHops), or the main timeline. Results are remembered, so that
// reactions and edits find their target's thread without a query.
func (s *Service) threadOf(ctx context.Context, row *storage.EventRow) (string, error) {
	thread, err := s.followRelations(ctx, row.RoomID, row.PDU)
	if err != nil {
		return "", err
	}
	if len(s.w.threads) >= maxCachedThreads {
		clear(s.w.threads)
	}
	s.w.threads[row.EventID] = thread
	return thread, nil
}

func (s *Service) followRelations(ctx context.Context, roomID string, pdu []byte) (string, error) {
	for range maxThreadHops {
		relType, parent := relation(pdu)
		if parent == "" {
			return MainThread, nil
		}
		if relType == "m.thread" {
			return parent, nil
		}
		if t, ok := s.w.threads[parent]; ok {
			return t, nil
		}
		rows, err := s.db.EventsByID(ctx, []string{parent})
		if err != nil {
			return "", err
		}
		if len(rows) == 0 || rows[0].RoomID != roomID {
			return MainThread, nil
		}
		pdu = rows[0].PDU
	}
	return MainThread, nil
}

// relation reads content["m.relates_to"]: its rel_type and event_id.
func relation(pdu []byte) (relType, eventID string) {
	content, _ := rawjson.Lookup(pdu, "content")
	rel, ok := rawjson.Lookup(content, "m.relates_to")
	if !ok {
		return "", ""
	}
	relType, _ = rawjson.LookupString(rel, "rel_type")
	eventID, _ = rawjson.LookupString(rel, "event_id")
	if relType == "" {
		return "", "" // a reply (m.in_reply_to) is not a relation
	}
	return relType, eventID
}

// Counts returns user's unread notifications in roomIDs (rooms without
// any are absent). It first waits, briefly, for the events committed so
// far to be evaluated, so counts include every event a /sync response
// computed now can contain.
func (s *Service) Counts(ctx context.Context, user string, roomIDs []string) (map[string]Counts, error) {
	s.waitProcessed(ctx, s.rooms.StreamPosition())
	rows, err := s.db.PushCounts(ctx, user, roomIDs)
	if err != nil {
		return nil, err
	}
	out := map[string]Counts{}
	for _, r := range rows {
		c := out[r.RoomID]
		n := NotificationCounts{NotificationCount: r.Notifications, HighlightCount: r.Highlights}
		if r.ThreadID == MainThread {
			c.Main = n
		} else {
			if c.Threads == nil {
				c.Threads = map[string]NotificationCounts{}
			}
			c.Threads[r.ThreadID] = n
		}
		out[r.RoomID] = c
	}
	return out, nil
}

// waitProcessed waits until events up to pos have been evaluated, ctx
// ends, the worker stops or maxCountsWait passes.
func (s *Service) waitProcessed(ctx context.Context, pos int64) {
	if s.w.done == nil {
		return
	}
	timer := time.NewTimer(maxCountsWait)
	defer timer.Stop()
	for {
		s.w.progressMu.Lock()
		ch := s.w.progressCh
		s.w.progressMu.Unlock()
		if s.w.processed.Load() >= pos {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		case <-s.w.done:
			return
		case <-timer.C:
			s.log.Warn("unread counts are behind the event stream", "evaluated", s.w.processed.Load(), "committed", pos)
			return
		}
	}
}

// ResetCounts marks user's notifications in roomID read up to and
// including stream position upToPos: those of threadID ("main" or a
// thread root), or of every thread when threadID is "" (an unthreaded
// receipt). Read marks never move back. Call it for m.read and
// m.read.private receipts.
func (s *Service) ResetCounts(ctx context.Context, user, roomID, threadID string, upToPos int64) error {
	return s.db.MarkPushRead(ctx, storage.PushReadMark{UserID: user, RoomID: roomID, ThreadID: threadID, Pos: upToPos})
}
