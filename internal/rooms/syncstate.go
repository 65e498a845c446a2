package rooms

import (
	"context"
	"maps"
	"slices"

	"github.com/axonhs/axon/internal/matrix/authrules"
)

// maxMembershipWalk bounds how many of a user's member events NewlyJoined
// walks back through before it settles for "newly joined".
const maxMembershipWalk = 20

// NewlyJoined reports whether a user whose current membership is the join
// eventID was not joined at stream position since, or left and came back
// after it. Either way the client must be sent the room afresh; a profile
// change of a member who stayed joined is no new join.
func (s *Service) NewlyJoined(ctx context.Context, eventID string, since int64) (bool, error) {
	id := eventID
	for range maxMembershipWalk {
		rows, err := s.storedEvents(ctx, []string{id})
		if err != nil {
			return false, err
		}
		if len(rows) == 0 {
			return true, nil
		}
		row := rows[0]
		joined := pduContentString(row.PDU, "membership") == membershipJoin
		if row.Pos <= since || !joined || row.ReplacesState == "" {
			// The membership at the token, a leave after it, or no
			// membership before the join.
			return row.Pos > since || !joined, nil
		}
		id = row.ReplacesState
	}
	// A long run of changes: sending the room afresh is harmless.
	return true, nil
}

// MemberEventsAt returns the member events of users in the room's state at
// stream position pos; users without one are skipped.
func (s *Service) MemberEventsAt(ctx context.Context, roomID string, pos int64, users []string) ([]*Event, error) {
	if len(users) == 0 {
		return nil, nil
	}
	group, err := s.stateGroupAt(ctx, roomID, pos)
	if err != nil {
		return nil, err
	}
	ids, err := s.memberIDs(ctx, group, users)
	if err != nil {
		return nil, err
	}
	return s.eventsByID(ctx, slices.Collect(maps.Values(ids)))
}

// memberIDs looks up the member event of each of users in a state group.
func (s *Service) memberIDs(ctx context.Context, group int64, users []string) (map[authrules.StateKey]string, error) {
	out := map[authrules.StateKey]string{}
	for _, u := range users {
		k := stateKeyOf(typeMember, u)
		id, err := s.stateLookup(ctx, group, k)
		if err != nil {
			return nil, err
		}
		if id != "" {
			out[k] = id
		}
	}
	return out, nil
}

// stateDiff returns the state of group that differs from that of base.
// When group descends from base through a short run of deltas (the common
// case between two syncs) it reads only those deltas.
func (s *Service) stateDiff(ctx context.Context, group, base int64) (map[authrules.StateKey]string, error) {
	if out, ok, err := s.deltaDiff(ctx, group, base); err != nil || ok {
		return out, err
	}
	after, err := s.stateAt(ctx, group)
	if err != nil {
		return nil, err
	}
	before, err := s.stateAt(ctx, base)
	if err != nil {
		return nil, err
	}
	for k, id := range after {
		if before[k] == id {
			delete(after, k)
		}
	}
	return after, nil
}

// deltaDiff is stateDiff along the delta chain from group back to base; ok
// is false when base is not on that chain.
func (s *Service) deltaDiff(ctx context.Context, group, base int64) (map[authrules.StateKey]string, bool, error) {
	out, ok, err := s.deltasSince(ctx, group, base, maxStateChain)
	if err != nil || !ok {
		return nil, ok, err
	}
	for k, id := range out {
		// A key set back to the event it had at base did not change.
		if was, err := s.stateLookup(ctx, base, k); err != nil {
			return nil, false, err
		} else if was == id {
			delete(out, k)
		}
	}
	return out, true, nil
}

// neededMembers are the users whose member events a client needs to
// show a timeline when members are lazy-loaded: its senders. For the
// state before the timeline (not stateAfter), a sender whose member event
// the timeline carries before their first event is left out, as the
// client takes it from there (Synapse's rule).
func neededMembers(timeline []*Event, stateAfter bool) []string {
	seen := map[string]bool{}
	inTimeline := map[string]bool{}
	var out []string
	for _, ev := range timeline {
		if !seen[ev.Sender] && (stateAfter || !inTimeline[ev.Sender]) {
			seen[ev.Sender] = true
			out = append(out, ev.Sender)
		}
		if ev.Type == typeMember && ev.StateKey != nil {
			inTimeline[*ev.StateKey] = true
		}
	}
	return out
}
