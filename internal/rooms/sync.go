package rooms

import (
	"context"
	"encoding/json"
	"maps"
	"slices"

	"github.com/axonhs/axon/internal/filter"
	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/matrix/canonicaljson"
)

// SliceRequest asks for one room's part of a /sync response.
type SliceRequest struct {
	User   string
	RoomID string
	// Since is the events position of the previous sync; 0 for an initial
	// sync of this room (including one the user joined since).
	Since int64
	// UpTo is the events position this sync is taken at (for a room the
	// user has left: their leave).
	UpTo      int64
	Limit     int
	FullState bool
	Timeline  *filter.RoomEventFilter
	State     *filter.RoomEventFilter
	// Ignored are the senders whose message events are left out.
	Ignored map[string]bool
	// StateAfter asks for the state at the end of the timeline instead of
	// at its start (use_state_after, MSC4222).
	StateAfter bool
	// KnownMember reports whether the client already holds member event
	// eventID of user, so that an incremental sync lazy-loading members
	// can leave it out of the state; nil sends them all.
	KnownMember func(user, eventID string) bool
}

// RoomSlice is one room's timeline and state for /sync.
type RoomSlice struct {
	Timeline  []*Event
	Limited   bool
	PrevBatch int64 // the timeline's prev_batch position (see prevBatch)
	State     []*Event
}

// SyncRoom computes a room's timeline after req.Since and the state a
// client needs alongside it (see syncState).
func (s *Service) SyncRoom(ctx context.Context, req SliceRequest) (RoomSlice, error) {
	var out RoomSlice
	if req.Since > 0 && !req.FullState && (req.UpTo <= req.Since || !s.recent.changedAfter(req.RoomID, req.Since)) {
		return out, nil // nothing new
	}
	rows, err := s.newestEvents(ctx, req.RoomID, req.Since, req.UpTo, req.Limit+1)
	if err != nil {
		return out, err
	}
	// start is the point right before the timeline (its end when the
	// timeline is empty, limit 0): the state section is taken there.
	start := req.Since
	if len(rows) > req.Limit {
		out.Limited = true
		start = rows[0].Pos
		rows = rows[:req.Limit]
	}
	slices.Reverse(rows) // oldest first
	if len(rows) > 0 {
		start = rows[0].Pos - 1
	}
	out.PrevBatch = prevBatch(req, out.Limited, start)
	current := s.currentMembership(ctx, req.RoomID, req.User)
	matching := rows[:0:0]
	for _, row := range rows {
		if !ignoredSender(req.Ignored, row) && req.Timeline.MatchesEvent(row.RoomID, row.Type, row.Sender, hasURL(row.PDU)) {
			matching = append(matching, row)
		}
	}
	kept, memberships, err := s.filterVisible(ctx, req.User, current, matching)
	if err != nil {
		return out, err
	}
	if out.Timeline, err = s.enrich(ctx, kept); err != nil {
		return out, err
	}
	setMemberships(out.Timeline, memberships)
	out.State, err = s.syncState(ctx, req, out, start)
	return out, err
}

// prevBatch is the timeline's prev_batch: the point right before it, so
// that /messages continues backwards from there and /members?at gives
// the state at its start. A fresh timeline (initial sync, or a room
// joined since) that is not limited holds every event of the room up to
// the sync: nothing lies before it, and like Synapse
// (_load_filtered_recents) it gets the sync's own position, so that
// /members?at=prev_batch is the member list as of this sync rather than
// the empty one before the room was created.
func prevBatch(req SliceRequest, limited bool, start int64) int64 {
	if req.Since == 0 && !limited {
		return req.UpTo
	}
	return start
}

// syncState is the state section. With StateAfter (use_state_after) it
// is the state at the end of the timeline: all of it for an initial or
// full-state sync, what changed since the token otherwise. Without, it
// is the state at the start of the timeline: all of it for an initial or
// full-state sync, what changed since the token for a gappy one, nothing
// for one without a gap. start is the point right before the timeline.
//
// With lazy-loaded members, the member events sent are those of the
// timeline's senders (and the user's own on an initial sync), even when
// they did not change, less those the client already holds (KnownMember).
// Member changes since the token are sent whatever the senders, so that
// a client keeping the member list from /members stays right (Synapse
// does the same).
func (s *Service) syncState(ctx context.Context, req SliceRequest, out RoomSlice, start int64) ([]*Event, error) {
	initial := req.Since == 0 || req.FullState
	lazy := req.State.LazyLoad()
	if !initial && !out.Limited && !req.StateAfter && (!lazy || len(out.Timeline) == 0) {
		return nil, nil
	}
	at := start
	if req.StateAfter {
		at = req.UpTo
	}
	group, err := s.stateGroupAt(ctx, req.RoomID, at)
	if err != nil {
		return nil, err
	}
	ids, err := s.stateIDs(ctx, req, out, group)
	if err != nil {
		return nil, err
	}
	if lazy {
		needed := neededMembers(out.Timeline, req.StateAfter)
		if initial {
			needed = append(needed, req.User)
		}
		members, err := s.memberIDs(ctx, group, needed)
		if err != nil {
			return nil, err
		}
		maps.Copy(ids, members)
	}
	var list []string
	for k, id := range ids {
		if k.Type == typeMember && !initial && req.KnownMember != nil && req.KnownMember(k.StateKey, id) {
			continue // redundant: the client has it
		}
		list = append(list, id)
	}
	evs, err := s.eventsByID(ctx, list)
	if err != nil {
		return nil, err
	}
	kept := evs[:0]
	for _, ev := range evs {
		if req.State.MatchesEvent(ev.RoomID, ev.Type, ev.Sender, false) {
			kept = append(kept, ev)
		}
	}
	return kept, nil
}

// stateIDs is the state section before lazy-loaded members are added:
// the whole state of group (less other members when lazy-loading) for an
// initial sync, its changes since the token for an incremental one that
// has a gap or asks for the state after the timeline, else nothing.
func (s *Service) stateIDs(ctx context.Context, req SliceRequest, out RoomSlice, group int64) (map[authrules.StateKey]string, error) {
	if req.Since == 0 || req.FullState {
		state, err := s.stateAt(ctx, group)
		if err != nil {
			return nil, err
		}
		if req.State.LazyLoad() {
			maps.DeleteFunc(state, func(k authrules.StateKey, _ string) bool { return k.Type == typeMember })
		}
		return state, nil
	}
	if !out.Limited && !req.StateAfter {
		return map[authrules.StateKey]string{}, nil
	}
	sinceGroup, err := s.stateGroupAt(ctx, req.RoomID, req.Since)
	if err != nil {
		return nil, err
	}
	return s.stateDiff(ctx, group, sinceGroup)
}

// Summary is the room summary of /sync (heroes and member counts).
type Summary struct {
	Heroes             []string `json:"m.heroes,omitempty"`
	JoinedMemberCount  int      `json:"m.joined_member_count"`
	InvitedMemberCount int      `json:"m.invited_member_count"`
}

// maxHeroes is how many members a summary names, as the spec suggests.
const maxHeroes = 5

// RoomSummary computes the summary from the room's current state. Heroes
// are only named for rooms without a name or canonical alias, which is
// when clients need them.
func (s *Service) RoomSummary(ctx context.Context, user, roomID string) (Summary, error) {
	r, err := s.room(ctx, roomID)
	if err != nil {
		return Summary{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.ensureLoaded(ctx, s.db); err != nil {
		return Summary{}, err
	}
	var sum Summary
	var candidates []string
	for k, ev := range r.state {
		if k.Type != typeMember {
			continue
		}
		switch contentString(ev, "membership") {
		case membershipJoin:
			sum.JoinedMemberCount++
		case membershipInvite:
			sum.InvitedMemberCount++
		default:
			continue
		}
		if k.StateKey != user {
			candidates = append(candidates, k.StateKey)
		}
	}
	if r.stateEvent(typeName, "") == nil && r.stateEvent(typeCanonicalAlias, "") == nil {
		slices.Sort(candidates)
		sum.Heroes = candidates[:min(len(candidates), maxHeroes)]
	}
	return sum, nil
}

// strippedTypes are the state events an invitee sees of a room
// (client-server API "Stripped state"; Synapse's room_prejoin_state).
var strippedTypes = []string{
	typeCreate, typeJoinRules, typeCanonicalAlias, "m.room.avatar", typeName, typeEncryption, typeTopic,
}

// InviteState returns the stripped state of a room for an invitee: the
// prejoin state events and the invite itself.
func (s *Service) InviteState(ctx context.Context, user, roomID string) ([]json.RawMessage, error) {
	r, err := s.room(ctx, roomID)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.ensureLoaded(ctx, s.db); err != nil {
		return nil, err
	}
	var out []json.RawMessage
	add := func(k authrules.StateKey) {
		ev := r.state[k]
		if ev == nil {
			return
		}
		b, err := canonicaljson.Marshal(map[string]any{
			"type": ev.Type(), "state_key": *ev.StateKey(), "sender": ev.Sender(), "content": json.RawMessage(ev.Content()),
		})
		if err == nil {
			out = append(out, b)
		}
	}
	for _, typ := range strippedTypes {
		add(stateKeyOf(typ, ""))
	}
	if invite := r.stateEvent(typeMember, user); invite != nil {
		add(stateKeyOf(typeMember, invite.Sender()))
		add(stateKeyOf(typeMember, user))
	}
	return out, nil
}
