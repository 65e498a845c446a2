package rooms

import (
	"context"
	"sync"

	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/storage"
)

// History visibility settings (m.room.history_visibility).
const (
	visWorldReadable = "world_readable"
	visShared        = "shared"
	visInvited       = "invited"
	visJoined        = "joined"
)

// visibleTo applies the spec's history visibility rules ("Room History
// Visibility") to one event: hv is the history visibility and m the
// user's membership in the state at the event; current is the user's
// membership now.
//
// For "shared", Synapse shows the whole history to anyone who is not
// peeking (anyone with a membership in the room); a user who has left
// does not see what was sent after they left unless they are back.
func visibleTo(hv, m, current string) bool {
	switch {
	case hv == visWorldReadable, m == membershipJoin:
		return true
	case m == membershipInvite && (hv == visInvited || hv == visShared):
		return true
	case hv == visShared:
		if current == membershipJoin {
			return true
		}
		return current != "" && m != membershipLeave && m != membershipBan
	}
	return false
}

// valueCache remembers one content field of state events by event ID:
// a membership or a history visibility. Both survive redaction, so the
// cache never needs invalidating.
type valueCache struct {
	mu     sync.Mutex
	values map[string]string
}

const maxCachedValues = 100000

func (c *valueCache) get(eventID string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.values[eventID]
	return v, ok
}

func (c *valueCache) put(eventID, v string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.values == nil || len(c.values) >= maxCachedValues {
		c.values = map[string]string{}
	}
	c.values[eventID] = v
}

// stateValue returns the content field of the state event (typ,
// stateKey) in group's state, "" if unset.
func (s *Service) stateValue(ctx context.Context, group int64, typ, stateKey, field string) (string, error) {
	eventID, err := s.stateLookup(ctx, group, authrules.StateKey{Type: typ, StateKey: stateKey})
	if err != nil || eventID == "" {
		return "", err
	}
	if v, ok := s.values.get(eventID); ok {
		return v, nil
	}
	rows, err := s.storedEvents(ctx, []string{eventID})
	if err != nil || len(rows) == 0 {
		return "", err
	}
	v := pduContentString(rows[0].PDU, field)
	s.values.put(eventID, v)
	return v, nil
}

// filterVisible keeps the events of one room that user may see, given
// the user's current membership, and returns the user's membership at
// each kept event (unsigned.membership, MSC4115) by event ID.
func (s *Service) filterVisible(ctx context.Context, user, current string, rows []storage.EventRow) ([]storage.EventRow, map[string]string, error) {
	out := rows[:0:0]
	memberships := make(map[string]string, len(rows))
	// Runs of events share a state group (messages change no state), so
	// each group's answer is looked up once.
	seen := map[int64]visibilityAt{}
	for _, row := range rows {
		at, ok := seen[row.StateGroup]
		if !ok {
			var err error
			if at, err = s.visibilityAt(ctx, user, row.StateGroup); err != nil {
				return nil, nil, err
			}
			seen[row.StateGroup] = at
		}
		if at.visible(row, user, current) {
			out = append(out, row)
			memberships[row.EventID] = at.reported()
		}
	}
	return out, memberships, nil
}

// visibilityAt is what decides whether a user may see the events of one
// state group: their membership and the history visibility there.
type visibilityAt struct {
	membership        string // "" when they have none
	historyVisibility string
}

func (s *Service) visibilityAt(ctx context.Context, user string, group int64) (visibilityAt, error) {
	m, err := s.stateValue(ctx, group, typeMember, user, "membership")
	if err != nil {
		return visibilityAt{}, err
	}
	hv, err := s.stateValue(ctx, group, typeHistoryVisibility, "", "history_visibility")
	if err != nil {
		return visibilityAt{}, err
	}
	if hv == "" {
		hv = visShared // the spec's default
	}
	return visibilityAt{membership: m, historyVisibility: hv}, nil
}

// visible decides whether user may see row.
func (v visibilityAt) visible(row storage.EventRow, user, current string) bool {
	if row.Type == typeMember && row.StateKey != nil && *row.StateKey == user {
		return true // users always see their own membership changes
	}
	return visibleTo(v.historyVisibility, v.membership, current)
}

// reported is the membership given in unsigned.membership: "leave" when
// they had none, as MSC4115 asks.
func (v visibilityAt) reported() string {
	if v.membership == "" {
		return membershipLeave
	}
	return v.membership
}

// eventVisible decides whether user may see row and returns their
// membership in the state after it (as visibilityAt.reported).
func (s *Service) eventVisible(ctx context.Context, user, current string, row storage.EventRow) (bool, string, error) {
	at, err := s.visibilityAt(ctx, user, row.StateGroup)
	if err != nil {
		return false, "", err
	}
	return at.visible(row, user, current), at.reported(), nil
}

// setMemberships fills unsigned.membership of events from filterVisible.
func setMemberships(evs []*Event, memberships map[string]string) {
	for _, ev := range evs {
		ev.Membership = memberships[ev.EventID]
	}
}
