package rooms

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/axonhs/axon/internal/storage"
)

const (
	// recentPerRoom is how many of a room's latest events recentEvents
	// indexes: enough for a timeline of 20 (Element's) and the extra row
	// that tells whether it is limited.
	recentPerRoom = 32
	// maxRecentEntries bounds the index over all rooms (20 MB at most).
	maxRecentEntries = 1 << 18
)

// recentEvents indexes the latest events of each room committed since
// start-up, by stream position: a /sync reads its timelines (the room's
// newest events after the token) and the state at their start from here
// and the event cache, without a query. It is fed by the committer before
// each batch's position is published, so a reader never sees a position
// whose events it lacks.
type recentEvents struct {
	mu      sync.RWMutex
	start   int64 // the stream position at start-up
	rooms   map[string]*recentRoom
	entries int
}

// recentRoom holds every event of the room after floor, oldest first.
type recentRoom struct {
	floor  int64
	last   int64 // the room's latest position
	events []recentEvent
}

type recentEvent struct {
	pos   int64
	group int64 // the room's state group after the event
	id    string
}

func newRecentEvents(start int64) *recentEvents {
	return &recentEvents{start: start, rooms: map[string]*recentRoom{}}
}

// note indexes a durable batch, in stream order.
func (r *recentEvents) note(batch []*write) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range batch {
		ev := &w.row.Event
		room := r.rooms[ev.RoomID]
		if room == nil {
			room = &recentRoom{floor: r.start}
			r.rooms[ev.RoomID] = room
		}
		if len(room.events) == recentPerRoom {
			room.floor = room.events[0].pos
			room.events = append(room.events[:0], room.events[1:]...)
			r.entries--
		}
		room.events = append(room.events, recentEvent{pos: ev.Pos, group: ev.StateGroup, id: ev.EventID})
		room.last = ev.Pos
		r.entries++
	}
	if r.entries > maxRecentEntries {
		r.shrink()
	}
}

// shrink forgets the events of rooms (any, map order) until the index is
// at three quarters of its bound; a room keeps its floor and latest
// position, so what it still answers stays right.
func (r *recentEvents) shrink() {
	for _, room := range r.rooms {
		if r.entries <= maxRecentEntries*3/4 {
			return
		}
		if n := len(room.events); n > 0 {
			room.floor = room.last
			room.events = nil
			r.entries -= n
		}
	}
}

// changedAfter reports whether roomID may have events after stream
// position after: certainly not if its latest event since start-up is
// not, or if it had none since start-up and after is not before that.
func (r *recentEvents) changedAfter(roomID string, after int64) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if room := r.rooms[roomID]; room != nil {
		return room.last > after
	}
	return after < r.start
}

// newest returns the IDs of the room's newest n events in (after, upTo],
// newest first, if the index holds all of them (ok).
func (r *recentEvents) newest(roomID string, after, upTo int64, n int) (ids []string, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	room := r.rooms[roomID]
	if room == nil {
		return nil, after >= r.start // no event since start-up
	}
	for i := len(room.events) - 1; i >= 0 && len(ids) < n; i-- {
		e := room.events[i]
		if e.pos <= after {
			return ids, true
		}
		if e.pos <= upTo {
			ids = append(ids, e.id)
		}
	}
	// Out of indexed events: the answer is whole if nothing older was in
	// the range.
	return ids, len(ids) == n || after >= room.floor
}

// stateGroupAt returns the room's state group after its last event at or
// before pos, if the index holds that event (ok).
func (r *recentEvents) stateGroupAt(roomID string, pos int64) (group int64, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	room := r.rooms[roomID]
	if room == nil {
		return 0, false
	}
	for i := len(room.events) - 1; i >= 0; i-- {
		if e := room.events[i]; e.pos <= pos {
			return e.group, true
		}
	}
	return 0, false
}

// newestEvents is db.RoomEvents backwards (the newest limit events of the
// room in (after, upTo], newest first), from the index and the event cache
// when they hold the answer.
func (s *Service) newestEvents(ctx context.Context, roomID string, after, upTo int64, limit int) ([]storage.EventRow, error) {
	ids, ok := s.recent.newest(roomID, after, upTo, limit)
	if !ok {
		return s.db.RoomEvents(ctx, roomID, after, upTo, limit, true)
	}
	rows, err := s.storedEvents(ctx, ids)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(rows, func(a, b storage.EventRow) int { return cmp.Compare(b.Pos, a.Pos) })
	return rows, nil
}

// stateGroupAt is db.StateGroupAt, from the index when it holds the
// answer.
func (s *Service) stateGroupAt(ctx context.Context, roomID string, pos int64) (int64, error) {
	if group, ok := s.recent.stateGroupAt(roomID, pos); ok {
		return group, nil
	}
	return s.db.StateGroupAt(ctx, roomID, pos)
}
