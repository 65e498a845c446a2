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
	"github.com/axonhs/axon/internal/push"
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
	IgnoredUsers(ctx context.Context, user string) (map[string]bool, error)
	OnCommit(fn func([]rooms.Committed))
	// NewlyJoined reports whether the user of join event eventID was not
	// joined at position since, or left and joined again after it.
	NewlyJoined(ctx context.Context, eventID string, since int64) (bool, error)
	// MemberEventsAt returns the member events of users in a room's
	// state at position pos.
	MemberEventsAt(ctx context.Context, roomID string, pos int64, users []string) ([]*rooms.Event, error)
}

// Store is what sync reads directly.
type Store interface {
	UserMemberships(ctx context.Context, userID string) ([]storage.Membership, error)
	JoinedMemberships(ctx context.Context, suffix string) ([]storage.Membership, error)
	AccountDataSince(ctx context.Context, userID string, after, upTo int64) ([]storage.AccountDataEntry, error)
	// MembershipChangers returns, per room, the users with member events
	// in (after, upTo].
	MembershipChangers(ctx context.Context, roomIDs []string, after, upTo int64) (map[string][]string, error)
}

// Typing is what sync needs of the typing notifications.
type Typing interface {
	Position() int64
	// Changed returns the users typing in each of roomIDs whose typing
	// set changed at a position in (after, upTo].
	Changed(roomIDs []string, after, upTo int64) map[string][]string
}

// Receipts is what sync needs of the read receipts.
type Receipts interface {
	Position() int64
	// ForSync returns the m.receipt event of each of user's joined rooms
	// with receipts in (after, upTo], and of each of fullRooms with all
	// of theirs.
	ForSync(ctx context.Context, user string, after, upTo int64, fullRooms []string) (map[string]json.RawMessage, error)
}

// Presence is what sync needs of the presence service.
type Presence interface {
	Position() int64
	// Syncing records the set_presence of a sync ("" for the default)
	// until done is called.
	Syncing(ctx context.Context, user, deviceID, state string) (done func())
	// ForSync returns the m.presence events of a sync.
	ForSync(ctx context.Context, user string, after, upTo int64, initial bool, newRooms []string) ([]json.RawMessage, error)
	// Current returns the m.presence events of users as they are now.
	Current(ctx context.Context, users []string) ([]json.RawMessage, error)
}

// Ephemeral are the sources of the ephemeral parts of a sync; a nil one
// contributes nothing.
type Ephemeral struct {
	Typing   Typing
	Receipts Receipts
	Presence Presence
}

// Service is the sync service.
type Service struct {
	rooms       Rooms
	store       Store
	notifier    *streams.Notifier
	accountData *streams.Sequence
	ephemeral   Ephemeral
	counts      Counts // nil: no unread counts
	e2ee        E2EE
	members     *sentMembers
	memberPos   memberTracker // latest member event per room (device lists)
	serverName  string
	now         func() time.Time
}

// New returns the sync service. accountData is the account data stream's
// sequence; notifier is shared with the writers of the other streams.
func New(rooms Rooms, store Store, notifier *streams.Notifier, accountData *streams.Sequence, serverName string) *Service {
	return &Service{
		rooms: rooms, store: store, notifier: notifier, accountData: accountData, members: newSentMembers(),
		serverName: serverName, now: time.Now,
	}
}

// Counts is what sync needs of push rules: the unread notification counts
// and the user's rules (m.push_rules on an initial sync).
type Counts interface {
	Counts(ctx context.Context, user string, roomIDs []string) (map[string]push.Counts, error)
	// RulesEvent is the user's rules as the m.push_rules event.
	RulesEvent(ctx context.Context, user string) (json.RawMessage, error)
}

// WithCounts adds unread notification counts and push rules to sync.
func (s *Service) WithCounts(c Counts) *Service {
	s.counts = c
	return s
}

// WithEphemeral adds the sources of typing notifications, receipts and
// presence; call it before Start.
func (s *Service) WithEphemeral(e Ephemeral) *Service {
	s.ephemeral = e
	return s
}

// Start loads who is in which room, so that room events wake the right
// syncs, and follows membership changes from then on.
func (s *Service) Start(ctx context.Context) error {
	s.rooms.OnCommit(s.committed)
	s.memberPos.start(s.rooms.StreamPosition())
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
		if c.Type == "m.room.member" {
			s.memberPos.note(c.RoomID, c.Pos)
		}
		if c.Type == "m.room.member" && c.StateKey != nil && s.local(*c.StateKey) {
			s.notifier.SetMember(c.RoomID, *c.StateKey, c.Membership == rooms.MembershipJoin)
			s.notifier.WakeUser(*c.StateKey)
		}
		s.notifier.WakeRoom(c.RoomID)
	}
}

// Current is the position of every stream now.
func (s *Service) Current() streams.Token {
	t := streams.Token{Events: s.rooms.StreamPosition(), AccountData: s.accountData.Current()}
	e := s.ephemeral
	if e.Typing != nil {
		t.Typing = e.Typing.Position()
	}
	if e.Receipts != nil {
		t.Receipts = e.Receipts.Position()
	}
	if e.Presence != nil {
		t.Presence = e.Presence.Position()
	}
	if s.e2ee.ToDevice != nil {
		t.ToDevice = s.e2ee.ToDevice.Position()
	}
	if s.e2ee.Keys != nil {
		t.DeviceLists = s.e2ee.Keys.Position()
	}
	return t
}

// Request is one /sync call.
type Request struct {
	User      string
	DeviceID  string
	Since     *streams.Token // nil for an initial sync
	FullState bool
	Timeout   time.Duration
	Filter    *filter.Filter // nil for none
	// SetPresence is set_presence: online (the default when empty),
	// unavailable, or offline (the sync leaves presence alone).
	SetPresence string
	// UseStateAfter is use_state_after (MSC4222, spec v1.16): rooms carry
	// state_after, the state at the end of their timeline, not state.
	UseStateAfter bool

	// ignored is the user's m.ignored_user_list, read once per response.
	ignored map[string]bool
	// receipts are an initial sync's m.receipt events by room, read
	// beside the other first reads.
	receipts map[string]json.RawMessage
	// newMembers collects, while a response is computed, the users who
	// joined (or were invited to or knocked on) a room the user was
	// already in, whose presence the response then carries.
	newMembers map[string]bool

	// typingReset: the client's typing position is from before a restart
	// (the typing stream is in memory), so every room's typing set is
	// sent again.
	typingReset bool
}

// maxTimeout bounds how long a request may be parked.
const maxTimeout = 5 * time.Minute

// Sync returns what changed since req.Since, waiting up to req.Timeout
// for a change when nothing has.
func (s *Service) Sync(ctx context.Context, req Request) (*Response, error) {
	timer := time.NewTimer(min(max(req.Timeout, 0), maxTimeout))
	defer timer.Stop()
	if p := s.ephemeral.Presence; p != nil {
		defer p.Syncing(ctx, req.User, req.DeviceID, req.SetPresence)()
	}
	s.checkTypingPosition(&req)
	if err := s.ackToDevice(ctx, req); err != nil {
		return nil, err
	}
	for {
		// Listen before reading positions: a change landing in between
		// closes the channel, so it cannot be missed.
		wake := s.notifier.Listen(req.User)
		cur := s.Current()
		if req.Since != nil {
			// A token given back never goes backwards.
			cur = cur.Max(*req.Since)
		}
		if req.Since == nil || req.FullState || req.typingReset || cur.After(*req.Since) {
			resp, err := s.compute(ctx, req, cur)
			if err != nil {
				return nil, err
			}
			if !resp.empty() || req.Since == nil || req.FullState {
				return resp, nil
			}
		}
		req.typingReset = false // done with: later rounds wait for changes
		select {
		case <-wake:
		case <-timer.C:
			// Key counts come even with nothing else: clients read a
			// missing count as unchanged.
			resp := emptyResponse(cur)
			c, err := s.readCounts(ctx, req, nil)
			if err != nil {
				return nil, err
			}
			applyCounts(req, resp, c)
			return resp, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// checkTypingPosition notices a typing position from before a restart:
// ahead of the stream, which restarted from zero. It is then read as zero
// and every room's typing set is sent again.
func (s *Service) checkTypingPosition(req *Request) {
	if req.Since == nil || s.ephemeral.Typing == nil || req.Since.Typing <= s.ephemeral.Typing.Position() {
		return
	}
	since := *req.Since
	since.Typing = 0
	req.Since = &since
	req.typingReset = true
}
