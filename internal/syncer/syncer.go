// Package syncer answers /sync: it gathers what changed for a user since
// their last sync token across every stream, and parks the request until
// something changes when there is nothing yet.
package syncer

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/axonhs/axon/internal/filter"
	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/streams"
)

// Rooms is what sync needs of the rooms service.
type Rooms interface {
	StreamPosition() int64
	SyncRoom(ctx context.Context, req rooms.SliceRequest) (rooms.RoomSlice, error)
	RoomSummary(ctx context.Context, user, roomID string) (rooms.Summary, error)
	InviteState(ctx context.Context, user, roomID string) ([]json.RawMessage, error)
	OnCommit(fn func([]rooms.Committed))
}

// Store is what sync reads directly.
type Store interface {
	UserMemberships(ctx context.Context, userID string) ([]storage.Membership, error)
	JoinedMemberships(ctx context.Context, suffix string) ([]storage.Membership, error)
	AccountDataSince(ctx context.Context, userID string, after, upTo int64) ([]storage.AccountDataEntry, error)
}

// Service is the sync service.
type Service struct {
	rooms       Rooms
	store       Store
	notifier    *streams.Notifier
	accountData *streams.Sequence
	serverName  string
	now         func() time.Time
}

// New returns the sync service. accountData is the account data stream's
// sequence; notifier is shared with the writers of the other streams.
func New(rooms Rooms, store Store, notifier *streams.Notifier, accountData *streams.Sequence, serverName string) *Service {
	return &Service{rooms: rooms, store: store, notifier: notifier, accountData: accountData, serverName: serverName, now: time.Now}
}

// Start loads who is in which room, so that room events wake the right
// syncs, and follows membership changes from then on.
func (s *Service) Start(ctx context.Context) error {
	s.rooms.OnCommit(s.committed)
	joined, err := s.store.JoinedMemberships(ctx, ":"+s.serverName)
	if err != nil {
		return err
	}
	for _, m := range joined {
		if s.local(m.UserID) {
			s.notifier.SetMember(m.RoomID, m.UserID, true)
		}
	}
	return nil
}

func (s *Service) local(user string) bool { return strings.HasSuffix(user, ":"+s.serverName) }

// committed wakes the syncs a batch of room events concerns.
func (s *Service) committed(batch []rooms.Committed) {
	for _, c := range batch {
		if c.Type == "m.room.member" && c.StateKey != nil && s.local(*c.StateKey) {
			s.notifier.SetMember(c.RoomID, *c.StateKey, c.Membership == rooms.MembershipJoin)
			s.notifier.WakeUser(*c.StateKey)
		}
		s.notifier.WakeRoom(c.RoomID)
	}
}

// Current is the position of every stream now.
func (s *Service) Current() streams.Token {
	return streams.Token{Events: s.rooms.StreamPosition(), AccountData: s.accountData.Current()}
}

// Request is one /sync call.
type Request struct {
	User      string
	DeviceID  string
	Since     *streams.Token // nil for an initial sync
	FullState bool
	Timeout   time.Duration
	Filter    *filter.Filter // nil for none
}

// maxTimeout bounds how long a request may be parked.
const maxTimeout = 5 * time.Minute

// Sync returns what changed since req.Since, waiting up to req.Timeout
// for a change when nothing has.
func (s *Service) Sync(ctx context.Context, req Request) (*Response, error) {
	timer := time.NewTimer(min(max(req.Timeout, 0), maxTimeout))
	defer timer.Stop()
	for {
		// Listen before reading positions: a change landing in between
		// closes the channel, so it cannot be missed.
		wake := s.notifier.Listen(req.User)
		cur := s.Current()
		if req.Since != nil {
			// A token given back never goes backwards.
			cur = cur.Max(*req.Since)
		}
		if req.Since == nil || req.FullState || cur.After(*req.Since) {
			resp, err := s.compute(ctx, req, cur)
			if err != nil {
				return nil, err
			}
			if !resp.empty() || req.Since == nil || req.FullState {
				return resp, nil
			}
		}
		select {
		case <-wake:
		case <-timer.C:
			return emptyResponse(cur), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
