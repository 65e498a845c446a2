// Package rooms is the room event pipeline: it builds, authorises and
// persists the events of local users, and answers questions about rooms
// (state, members, events) with the visibility rules applied.
//
// Each room has an in-memory head (current state and forward extremities)
// that its writers take turns on, so auth checks never touch the database.
// Accepted events go to a single committer that writes whatever has queued
// in one transaction and assigns global stream positions in commit order;
// a sender's call returns only once its event is durable.
package rooms

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/storage"
)

// Event types and memberships the service acts on.
const (
	typeCreate            = "m.room.create"
	typeMember            = "m.room.member"
	typePowerLevels       = "m.room.power_levels"
	typeJoinRules         = "m.room.join_rules"
	typeHistoryVisibility = "m.room.history_visibility"
	typeGuestAccess       = "m.room.guest_access"
	typeName              = "m.room.name"
	typeTopic             = "m.room.topic"
	typeCanonicalAlias    = "m.room.canonical_alias"
	typeRedaction         = "m.room.redaction"
	typeEncryption        = "m.room.encryption"

	membershipJoin   = "join"
	membershipInvite = "invite"
	membershipLeave  = "leave"
	membershipBan    = "ban"
	membershipKnock  = "knock"
)

// Errors callers map to Matrix error codes.
var (
	// ErrNotFound: the room (or event) is unknown here.
	ErrNotFound = errors.New("rooms: not found")
	// ErrForbidden wraps a refusal: the auth rules, or a policy of ours.
	ErrForbidden = errors.New("rooms: forbidden")
	// ErrBadRequest wraps an invalid request (bad content, state key, ...).
	ErrBadRequest = errors.New("rooms: bad request")
	// ErrUnsupportedVersion: the requested room version is unknown.
	ErrUnsupportedVersion = errors.New("rooms: unsupported room version")
	// ErrTooLarge: the event would exceed the PDU size limit.
	ErrTooLarge = errors.New("rooms: event too large")
	// ErrAliasInUse: a room alias is already taken.
	ErrAliasInUse = errors.New("rooms: alias in use")
)

// Signer is the server identity events are signed with.
type Signer struct {
	ServerName string
	KeyID      string
	Key        ed25519.PrivateKey
}

// Settings are the homeserver.yaml settings the service obeys.
type Settings struct {
	DefaultRoomVersion string
}

// Service is the rooms service.
type Service struct {
	db       *storage.DB
	log      *slog.Logger
	signer   Signer
	settings Settings
	profiles Profiles // may be nil: member events then carry no profile
	pusher   Pusher   // may be nil: no push rules are evaluated
	now      func() time.Time

	mu    sync.Mutex
	rooms map[string]*room

	// checker applies the auth rules; a join_authorised_via_users_server
	// naming this server is trusted because this server signs the events
	// it builds.
	checker   *authrules.Checker
	committer *committer
	nextGroup atomic.Int64
	groups    groupCache
	values    valueCache
	events    eventCache
	recent    *recentEvents
	txns      txnIndex

	listenersMu sync.RWMutex
	listeners   []func([]Committed)
}

// New returns the rooms service, ready once Start has run.
func New(db *storage.DB, log *slog.Logger, signer Signer, profiles Profiles, settings Settings) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{db: db, log: log, signer: signer, settings: settings, profiles: profiles, now: time.Now, rooms: map[string]*room{}}
	s.checker = &authrules.Checker{SignedByServer: func(_ authrules.Event, server string) bool { return server == signer.ServerName }}
	return s
}

// Start reads the stream heads and starts the committer.
func (s *Service) Start(ctx context.Context) error {
	maxPos, maxGroup, err := s.db.StreamHeads(ctx)
	if err != nil {
		return err
	}
	s.nextGroup.Store(maxGroup)
	s.recent = newRecentEvents(maxPos)
	s.committer = newCommitter(s.db, s.log, maxPos, s.broadcast)
	s.committer.durable = s.noteDurable
	go s.committer.run()
	return nil
}

// Stop commits queued events and stops the committer. Sends after Stop
// panic; stop the HTTP listeners first. Stopping twice is harmless.
func (s *Service) Stop() {
	if s.committer != nil {
		s.committer.stop()
	}
}

// noteDurable brings the caches of stored events up to a durable batch:
// its events and state groups are cached as stored, the events its
// redactions rewrote are dropped, and the recent-events and transaction
// ID indexes learn of it.
func (s *Service) noteDurable(batch []*write) {
	rows := make([]storage.EventRow, len(batch))
	for i, w := range batch {
		rows[i] = w.row.Event
		if g := w.row.StateGroup; g != nil {
			s.groups.put(g.GroupID, newStateGroup(g.PrevGroup, g.Entries))
		}
	}
	s.events.put(rows)
	for _, w := range batch {
		if red := w.row.Redaction; red != nil {
			s.events.invalidate(red.EventID)
		}
	}
	s.recent.note(batch)
	s.txns.note(batch)
}

// StreamPosition is the highest committed event stream position.
func (s *Service) StreamPosition() int64 { return s.committer.position() }

// OnCommit registers fn to be called, in stream order and from one
// goroutine, with every durable batch of events. fn must not block.
func (s *Service) OnCommit(fn func([]Committed)) {
	s.listenersMu.Lock()
	defer s.listenersMu.Unlock()
	s.listeners = append(s.listeners, fn)
}

func (s *Service) broadcast(batch []Committed) {
	s.listenersMu.RLock()
	defer s.listenersMu.RUnlock()
	for _, fn := range s.listeners {
		fn(batch)
	}
}

// room returns the room's head, loading it on first use. It returns
// ErrNotFound for a room this server does not know.
func (s *Service) room(ctx context.Context, roomID string) (*room, error) {
	s.mu.Lock()
	r, ok := s.rooms[roomID]
	if !ok {
		r = &room{id: roomID}
		s.rooms[roomID] = r
	}
	s.mu.Unlock()
	// Loading happens under the room's lock, so concurrent first users
	// load once; the caller locks it again to write.
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.ensureLoaded(ctx, s.db); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			s.forget(roomID, r)
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("load room: %w", err)
	}
	return r, nil
}

// forget drops a head that turned out not to exist.
func (s *Service) forget(roomID string, r *room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[roomID] == r {
		delete(s.rooms, roomID)
	}
}
