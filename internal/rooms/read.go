package rooms

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/axonhs/axon/internal/matrix/authrules"
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/storage"
)

// access is what a user may read of a room: the state and events up to
// a point (their leave, for a user who has left), or everything.
type access struct {
	membership string // the user's current membership ("" if none)
	// group is the state group the user sees as the room's state: the
	// current one for members and world-readable rooms, the one at their
	// leave otherwise.
	group int64
	// upTo bounds the stream positions the user may read (inclusive).
	upTo int64
}

// accessFor decides what user may read of roomID. Non-members of a room
// that is not world readable get ErrForbidden, as the spec requires for
// /state, /members and /messages.
func (s *Service) accessFor(ctx context.Context, user, roomID string) (*room, access, error) {
	forbidden := fmt.Errorf("%w: you are not allowed to view this room", ErrForbidden)
	r, err := s.room(ctx, roomID)
	if errors.Is(err, ErrNotFound) {
		return nil, access{}, forbidden // as in Synapse: not telling which rooms exist
	}
	if err != nil {
		return nil, access{}, err
	}
	r.mu.Lock()
	if err := r.ensureLoaded(ctx, s.db); err != nil {
		r.mu.Unlock()
		return nil, access{}, err
	}
	a := access{membership: r.membership(user), group: r.stateGroup, upTo: s.StreamPosition()}
	hv := ""
	if ev := r.stateEvent(typeHistoryVisibility, ""); ev != nil {
		hv = contentString(ev, "history_visibility")
	}
	memberEvent := r.stateEvent(typeMember, user)
	r.mu.Unlock()

	switch {
	case a.membership == membershipJoin, hv == visWorldReadable:
		return r, a, nil
	case a.membership == membershipLeave || a.membership == membershipBan:
		// The room as it was when they left (or were kicked or banned),
		// unless they have forgotten it.
		if forgotten, err := s.db.Forgotten(ctx, user, roomID); err != nil || forgotten {
			if err != nil {
				return nil, access{}, err
			}
			return nil, access{}, forbidden
		}
		rows, err := s.storedEvents(ctx, []string{memberEvent.EventID()})
		if err != nil {
			return nil, access{}, err
		}
		if len(rows) == 1 {
			a.group, a.upTo = rows[0].StateGroup, rows[0].Pos
			return r, a, nil
		}
	}
	return nil, access{}, forbidden
}

// State returns the room state user may see (GET /rooms/{roomId}/state).
func (s *Service) State(ctx context.Context, user, roomID string) ([]*Event, error) {
	_, a, err := s.accessFor(ctx, user, roomID)
	if err != nil {
		return nil, err
	}
	state, err := s.stateAt(ctx, a.group)
	if err != nil {
		return nil, err
	}
	return s.eventsByID(ctx, slices.Collect(maps.Values(state)))
}

// StateEvent returns one piece of the state user may see, or ErrNotFound.
func (s *Service) StateEvent(ctx context.Context, user, roomID, typ, stateKey string) (*Event, error) {
	_, a, err := s.accessFor(ctx, user, roomID)
	if err != nil {
		return nil, err
	}
	eventID, err := s.stateLookup(ctx, a.group, authrules.StateKey{Type: typ, StateKey: stateKey})
	if err != nil {
		return nil, err
	}
	if eventID == "" {
		return nil, fmt.Errorf("%w: no %s state with key %q", ErrNotFound, typ, stateKey)
	}
	evs, err := s.eventsByID(ctx, []string{eventID})
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, ErrNotFound
	}
	return evs[0], nil
}

// Members returns the m.room.member events of the room's state as user
// sees it, keeping those whose membership passes keep. With at >= 0 (the
// events position of a sync or pagination token) it is the state at that
// point instead, as far as the user may read (see stateGroupAtPoint).
func (s *Service) Members(ctx context.Context, user, roomID string, at int64, keep func(membership string) bool) ([]*Event, error) {
	_, a, err := s.accessFor(ctx, user, roomID)
	if err != nil {
		return nil, err
	}
	group := a.group
	if at >= 0 && at < a.upTo {
		if group, err = s.stateGroupAtPoint(ctx, user, roomID, a, at); err != nil {
			return nil, err
		}
	}
	state, err := s.stateAt(ctx, group)
	if err != nil {
		return nil, err
	}
	var ids []string
	for k, id := range state {
		if k.Type == typeMember {
			ids = append(ids, id)
		}
	}
	evs, err := s.eventsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := evs[:0]
	for _, ev := range evs {
		if keep == nil || keep(pduContentString(ev.PDU, "membership")) {
			out = append(out, ev)
		}
	}
	return out, nil
}

// stateGroupAtPoint is the room's state group at events position pos: the
// state after its last event at or before pos, which is what a client has
// seen once it holds exactly the events up to the token. As in Synapse
// (get_state_events with at_token), a point before the room's first event
// is ErrNotFound, and one where the history visibility would hide the
// room's events from the user is ErrForbidden.
func (s *Service) stateGroupAtPoint(ctx context.Context, user, roomID string, a access, pos int64) (int64, error) {
	group, err := s.stateGroupAt(ctx, roomID, pos)
	if err != nil {
		return 0, err
	}
	if group == 0 { // group IDs start at 1: no event at or before pos
		return 0, fmt.Errorf("%w: the room has no events before that token", ErrNotFound)
	}
	m, err := s.stateValue(ctx, group, typeMember, user, "membership")
	if err != nil {
		return 0, err
	}
	hv, err := s.stateValue(ctx, group, typeHistoryVisibility, "", "history_visibility")
	if err != nil {
		return 0, err
	}
	if hv == "" {
		hv = visShared // the spec's default
	}
	if !visibleTo(hv, m, a.membership) {
		return 0, fmt.Errorf("%w: you may not view the room at that point", ErrForbidden)
	}
	return group, nil
}

// JoinedMembers returns the member events of the room's joined members,
// for members and (world-readable rooms) anyone; unlike Members, not for
// users who have left, as in Synapse.
func (s *Service) JoinedMembers(ctx context.Context, user, roomID string) ([]*Event, error) {
	_, a, err := s.accessFor(ctx, user, roomID)
	if err != nil {
		return nil, err
	}
	if a.membership == membershipLeave || a.membership == membershipBan {
		if cur, _ := s.RoomHistoryVisibility(ctx, roomID); cur != visWorldReadable {
			return nil, fmt.Errorf("%w: you are not in the room", ErrForbidden)
		}
	}
	return s.Members(ctx, user, roomID, -1, func(m string) bool { return m == membershipJoin })
}

// RoomHistoryVisibility is the room's current history visibility.
func (s *Service) RoomHistoryVisibility(ctx context.Context, roomID string) (string, error) {
	r, err := s.room(ctx, roomID)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if ev := r.stateEvent(typeHistoryVisibility, ""); ev != nil {
		return contentString(ev, "history_visibility"), nil
	}
	return visShared, nil
}

// EventFor returns one event of the room if user may see it; an event
// they may not see is ErrNotFound, like one that does not exist.
func (s *Service) EventFor(ctx context.Context, user, roomID, eventID string) (*Event, error) {
	notFound := fmt.Errorf("%w: event not found", ErrNotFound)
	_, a, err := s.accessFor(ctx, user, roomID)
	if errors.Is(err, ErrForbidden) {
		return nil, notFound // as in Synapse: an event one may not see does not exist
	}
	if err != nil {
		return nil, err
	}
	rows, err := s.storedEvents(ctx, []string{eventID})
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 || rows[0].RoomID != roomID || rows[0].Pos > a.upTo {
		return nil, notFound
	}
	rows, memberships, err := s.filterVisible(ctx, user, a.membership, rows)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, notFound
	}
	evs, err := s.enrich(ctx, rows)
	if err != nil {
		return nil, err
	}
	setMemberships(evs, memberships)
	return evs[0], nil
}

// JoinedRooms lists the rooms user is joined to.
func (s *Service) JoinedRooms(ctx context.Context, user string) ([]string, error) {
	ms, err := s.db.UserMemberships(ctx, user)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		if m.Membership == membershipJoin {
			out = append(out, m.RoomID)
		}
	}
	slices.Sort(out)
	return out, nil
}

// eventsByID loads and enriches events by ID.
func (s *Service) eventsByID(ctx context.Context, ids []string) ([]*Event, error) {
	rows, err := s.storedEvents(ctx, ids)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(rows, func(a, b storage.EventRow) int { return cmp.Compare(a.Pos, b.Pos) })
	return s.enrich(ctx, rows)
}

// enrich adds what the client format needs beyond the rows: the content
// of replaced state (prev_content) and the redaction of redacted events,
// in one query for the whole list.
func (s *Service) enrich(ctx context.Context, rows []storage.EventRow) ([]*Event, error) {
	var ids []string
	for _, r := range rows {
		if r.ReplacesState != "" {
			ids = append(ids, r.ReplacesState)
		}
		if r.RedactedBy != "" {
			ids = append(ids, r.RedactedBy)
		}
	}
	related := map[string]storage.EventRow{}
	if len(ids) > 0 {
		rel, err := s.storedEvents(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, r := range rel {
			related[r.EventID] = r
		}
	}
	out := make([]*Event, len(rows))
	for i, r := range rows {
		ev := &Event{EventRow: r}
		if prev, ok := related[r.ReplacesState]; ok {
			ev.PrevContent, _ = rawjson.Lookup(prev.PDU, "content")
			ev.PrevSender = prev.Sender
		}
		if red, ok := related[r.RedactedBy]; ok {
			ev.RedactedBecause = ClientEvent(&Event{EventRow: red}, Format{NowMS: s.now().UnixMilli()})
		}
		out[i] = ev
	}
	return out, nil
}
