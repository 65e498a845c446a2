package syncer

import (
	"context"
	"encoding/json"
	"maps"
	"slices"

	"github.com/axonhs/axon/internal/filter"
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/streams"
)

// Ephemeral event types.
const (
	typeTyping   = "m.typing"
	typeReceipt  = "m.receipt"
	typePresence = "m.presence"
)

// ephemeralEvents gathers the ephemeral events (m.typing, m.receipt) of
// the joined rooms: what changed since the token, and the whole picture
// for the rooms new to the client (fresh).
func (s *Service) ephemeralEvents(ctx context.Context, req Request, since, cur streams.Token, joined, fresh []string) (map[string][]json.RawMessage, error) {
	var ef *filter.RoomEventFilter
	if req.Filter != nil && req.Filter.Room != nil {
		ef = req.Filter.Room.Ephemeral
	}
	out := map[string][]json.RawMessage{}
	if err := s.typingEvents(req, since, cur, passing(joined, ef, typeTyping), passing(fresh, ef, typeTyping), out); err != nil {
		return nil, err
	}
	if err := s.receiptEvents(ctx, req, since, cur, passing(joined, ef, typeReceipt), passing(fresh, ef, typeReceipt), out); err != nil {
		return nil, err
	}
	return out, nil
}

// passing keeps the rooms whose events of type typ the filter lets through.
func passing(roomIDs []string, f *filter.RoomEventFilter, typ string) []string {
	var out []string
	for _, r := range roomIDs {
		if f.MatchesEvent(r, typ, "", false) {
			out = append(out, r)
		}
	}
	return out
}

// typingEvents adds an m.typing event for each room whose typing set
// changed since the token; a fresh room gets one only if someone is
// typing. After a restart (typingReset) every room gets its set, empty or
// not, so that clients drop what they knew before.
func (s *Service) typingEvents(req Request, since, cur streams.Token, joined, fresh []string, out map[string][]json.RawMessage) error {
	t := s.ephemeral.Typing
	if t == nil || len(joined) == 0 {
		return nil
	}
	var known []string
	for _, r := range joined {
		if !slices.Contains(fresh, r) {
			known = append(known, r)
		}
	}
	sets := t.Changed(known, since.Typing, cur.Typing)
	if req.typingReset {
		for _, r := range known {
			if _, ok := sets[r]; !ok {
				sets[r] = []string{}
			}
		}
	}
	for r, users := range t.Changed(fresh, 0, cur.Typing) {
		if len(users) > 0 {
			sets[r] = users
		}
	}
	for r, users := range sets {
		ev, err := json.Marshal(map[string]any{"type": typeTyping, "content": map[string][]string{"user_ids": users}})
		if err != nil {
			return err
		}
		out[r] = append(out[r], ev)
	}
	return nil
}

// receiptEvents adds each room's m.receipt event: the receipts sent since
// the token, or all of them in a fresh room.
func (s *Service) receiptEvents(ctx context.Context, req Request, since, cur streams.Token, joined, fresh []string, out map[string][]json.RawMessage) error {
	rs := s.ephemeral.Receipts
	if rs == nil || len(joined) == 0 {
		return nil
	}
	evs := req.receipts // an initial sync's, read with the first reads
	if evs == nil {
		after, full := since.Receipts, fresh
		if req.Since == nil {
			after, full = 0, nil // every room is fresh: one query for all
		}
		var err error
		if evs, err = rs.ForSync(ctx, req.User, after, cur.Receipts, full); err != nil {
			return err
		}
	}
	for _, r := range joined {
		if ev, ok := evs[r]; ok {
			out[r] = append(out[r], ev)
		}
	}
	return nil
}

// presenceSection fills the presence section: on an initial or full-state
// sync everyone the user shares a room with, else the changes since the
// token, the members of rooms joined since, and the users who joined the
// user's rooms since (req.newMembers), as they are now.
func (s *Service) presenceSection(ctx context.Context, req Request, since, cur streams.Token, fresh []string, resp *Response) error {
	p := s.ephemeral.Presence
	if p == nil {
		return nil
	}
	var pf *filter.EventFilter
	if req.Filter != nil {
		pf = req.Filter.Presence
	}
	if pf != nil && !(&filter.EventFilter{Types: pf.Types, NotTypes: pf.NotTypes}).Matches(typePresence, "") {
		return nil // the filter wants no presence at all
	}
	initial := req.Since == nil || req.FullState
	var newRooms []string
	if !initial {
		newRooms = fresh
	}
	evs, err := p.ForSync(ctx, req.User, since.Presence, cur.Presence, initial, newRooms)
	if err != nil {
		return err
	}
	if !initial && len(req.newMembers) > 0 {
		more, err := p.Current(ctx, slices.Sorted(maps.Keys(req.newMembers)))
		if err != nil {
			return err
		}
		evs = append(evs, more...)
	}
	seen := map[string]bool{}
	for _, ev := range evs {
		sender, _ := rawjson.LookupString(ev, "sender")
		if !seen[sender] && pf.Matches(typePresence, sender) {
			seen[sender] = true
			resp.Presence.Events = append(resp.Presence.Events, ev)
		}
	}
	return nil
}
