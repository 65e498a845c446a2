// Package typing keeps who is typing in which room. Typing notifications
// are ephemeral: they live in memory only (as in Synapse), each expiring on
// its own timer, and a restart forgets them.
//
// Every change to a room's set of typing users takes the next position of
// the typing stream; /sync sends a room's current set when its last change
// is newer than the client's token. Positions restart from zero with the
// server, so a token from before a restart can be ahead of the stream
// (the syncer treats that as zero).
package typing

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/axonhs/axon/internal/clock"
)

// Errors callers map to Matrix error codes.
var (
	// ErrNotSelf: users may only set their own typing state.
	ErrNotSelf = errors.New("typing: cannot set another user's typing state")
	// ErrNotJoined: only members of a room may type in it.
	ErrNotJoined = errors.New("typing: user is not in the room")
)

// Timeouts of a typing notification, as Synapse applies them.
const (
	DefaultTimeout = 30 * time.Second
	MaxTimeout     = 120 * time.Second
)

// Members tells whether a user is joined to a room.
type Members interface {
	IsJoined(ctx context.Context, userID, roomID string) (bool, error)
}

// Service holds the typing state of every room.
type Service struct {
	members Members
	clock   clock.Clock
	wake    func(roomID string) // wakes the syncs of the room's members

	mu    sync.Mutex
	pos   int64 // the last position handed out
	rooms map[string]*room
}

// room is one room's typing users. It is kept after the last user stops,
// because its position tells syncs that the set changed.
type room struct {
	pos    int64 // of the room's last change
	typing map[string]*typist
}

// typist is one user's typing notification.
type typist struct {
	expiry clock.Timer
}

// New returns an empty service; wake is called, outside the service's
// lock, with each room whose typing set changed.
func New(members Members, clk clock.Clock, wake func(roomID string)) *Service {
	if wake == nil {
		wake = func(string) {}
	}
	return &Service{members: members, clock: clk, wake: wake, rooms: map[string]*room{}}
}

// Request is one PUT /rooms/{roomId}/typing/{userId}.
type Request struct {
	Requester string
	Target    string // the user in the path
	RoomID    string
	Typing    bool
	Timeout   time.Duration // clamped to [0, MaxTimeout]
}

// Set starts or stops a user's typing notification in a room they are
// joined to. Starting again while typing only extends the timeout.
func (s *Service) Set(ctx context.Context, req Request) error {
	if req.Target != req.Requester {
		return ErrNotSelf
	}
	joined, err := s.members.IsJoined(ctx, req.Requester, req.RoomID)
	if err != nil {
		return err
	}
	if !joined {
		return ErrNotJoined
	}
	if req.Typing {
		s.start(req.RoomID, req.Requester, min(max(req.Timeout, 0), MaxTimeout))
	} else {
		s.Stop(req.RoomID, req.Requester)
	}
	return nil
}

func (s *Service) start(roomID, user string, timeout time.Duration) {
	s.mu.Lock()
	r := s.rooms[roomID]
	if r == nil {
		r = &room{typing: map[string]*typist{}}
		s.rooms[roomID] = r
	}
	old, already := r.typing[user]
	if already {
		old.expiry.Stop()
	}
	// The timer removes this notification only: expire compares pointers
	// to tell it apart from a later one for the same user.
	t := &typist{}
	t.expiry = s.clock.AfterFunc(timeout, func() { s.expire(roomID, user, t) })
	r.typing[user] = t
	if !already {
		s.changedLocked(r)
	}
	s.mu.Unlock()
	if !already {
		s.wake(roomID)
	}
}

func (s *Service) expire(roomID, user string, t *typist) {
	s.mu.Lock()
	r := s.rooms[roomID]
	if r == nil || r.typing[user] != t {
		s.mu.Unlock()
		return // stopped, or replaced by a newer notification
	}
	delete(r.typing, user)
	s.changedLocked(r)
	s.mu.Unlock()
	s.wake(roomID)
}

// Stop ends user's typing notification in a room, if any: on request,
// and when the user leaves the room.
func (s *Service) Stop(roomID, user string) {
	s.mu.Lock()
	r := s.rooms[roomID]
	if r == nil {
		s.mu.Unlock()
		return
	}
	t, ok := r.typing[user]
	if !ok {
		s.mu.Unlock()
		return
	}
	t.expiry.Stop()
	delete(r.typing, user)
	s.changedLocked(r)
	s.mu.Unlock()
	s.wake(roomID)
}

func (s *Service) changedLocked(r *room) {
	s.pos++
	r.pos = s.pos
}

// Position is the typing stream's current position.
func (s *Service) Position() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pos
}

// Changed returns the users typing now, sorted, in each of roomIDs whose
// typing set last changed at a position in (after, upTo]. A room whose
// last change is past upTo is left for the next sync, which will see it.
func (s *Service) Changed(roomIDs []string, after, upTo int64) map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for _, id := range roomIDs {
		r := s.rooms[id]
		if r == nil || r.pos <= after || r.pos > upTo {
			continue
		}
		users := make([]string, 0, len(r.typing))
		for u := range r.typing {
			users = append(users, u)
		}
		slices.Sort(users)
		out[id] = users
	}
	return out
}

// Close cancels every pending expiry (at shutdown).
func (s *Service) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rooms {
		for u, t := range r.typing {
			t.expiry.Stop()
			delete(r.typing, u)
		}
	}
}
