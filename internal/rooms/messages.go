package rooms

import (
	"context"

	"github.com/axonhs/axon/internal/filter"
	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/storage"
)

// MessagesRequest is GET /rooms/{roomId}/messages in stream positions: a
// position P is the point between the events at or before P and those
// after it.
type MessagesRequest struct {
	User      string
	RoomID    string
	From      int64 // -1: the end (backwards) or the start (forwards)
	To        int64 // -1: no bound
	Backwards bool
	Limit     int
	Filter    *filter.RoomEventFilter
}

// MessagesPage is one page of a room's timeline.
type MessagesPage struct {
	Events []*Event
	// Start is where the page starts: From, or without it the end the
	// pagination began at (the user's latest position backwards, the
	// room's beginning forwards).
	Start int64
	// End is where the next page starts; -1 when there is nothing more.
	End int64
	// Members are the m.room.member events of the senders, when the
	// filter asks for lazy-loaded members.
	Members []*Event
}

// maxScan bounds how many stored events one page may read while skipping
// filtered or invisible ones, so a sparse filter cannot make a request
// walk a whole room.
const maxScan = 1000

// Messages pages through the room's events that user may see.
func (s *Service) Messages(ctx context.Context, req MessagesRequest) (MessagesPage, error) {
	_, a, err := s.accessFor(ctx, req.User, req.RoomID)
	if err != nil {
		return MessagesPage{}, err
	}
	ignored, err := s.IgnoredUsers(ctx, req.User)
	if err != nil {
		return MessagesPage{}, err
	}
	page := MessagesPage{End: -1}
	pos := req.From
	if pos < 0 {
		pos = a.upTo
		if !req.Backwards {
			pos = 0
		}
	}
	pos = min(pos, a.upTo)
	page.Start = pos
	var kept []storage.EventRow
	memberships := map[string]string{}
	exhausted := false
	for scanned := 0; len(kept) < req.Limit && scanned < maxScan; {
		var rows []storage.EventRow
		if req.Backwards {
			lower := int64(0)
			if req.To >= 0 {
				lower = req.To
			}
			if pos <= lower {
				exhausted = true
				break
			}
			rows, err = s.db.RoomEvents(ctx, req.RoomID, lower, pos, req.Limit, true)
		} else {
			upper := a.upTo
			if req.To >= 0 {
				upper = min(upper, req.To)
			}
			if pos >= upper {
				exhausted = true
				break
			}
			rows, err = s.db.RoomEvents(ctx, req.RoomID, pos, upper, req.Limit, false)
		}
		if err != nil {
			return MessagesPage{}, err
		}
		if len(rows) == 0 {
			exhausted = true
			break
		}
		scanned += len(rows)
		for i, row := range rows {
			if req.Backwards {
				pos = row.Pos - 1
			} else {
				pos = row.Pos
			}
			if ignoredSender(ignored, row) || !req.Filter.MatchesEvent(row.RoomID, row.Type, row.Sender, hasURL(row.PDU)) {
				continue
			}
			ok, m, err := s.eventVisible(ctx, req.User, a.membership, row)
			if err != nil {
				return MessagesPage{}, err
			}
			if ok {
				memberships[row.EventID] = m
				kept = append(kept, row)
				if len(kept) == req.Limit {
					break
				}
			}
			if i == len(rows)-1 && len(rows) < req.Limit {
				exhausted = true
			}
		}
		page.End = pos
	}
	if exhausted {
		page.End = -1
	}
	if page.Events, err = s.enrich(ctx, kept); err != nil {
		return MessagesPage{}, err
	}
	setMemberships(page.Events, memberships)
	if req.Filter.LazyLoad() {
		if page.Members, err = s.senderMembers(ctx, req.User, a, page.Events); err != nil {
			return MessagesPage{}, err
		}
	}
	return page, nil
}

// senderMembers returns the current member events of the senders of evs
// (lazy-loading members), within what the user may see of the state.
func (s *Service) senderMembers(ctx context.Context, user string, a access, evs []*Event) ([]*Event, error) {
	seen := map[string]bool{}
	var ids []string
	for _, ev := range evs {
		if seen[ev.Sender] {
			continue
		}
		seen[ev.Sender] = true
		id, err := s.stateLookup(ctx, a.group, stateKeyOf(typeMember, ev.Sender))
		if err != nil {
			return nil, err
		}
		if id != "" {
			ids = append(ids, id)
		}
	}
	return s.eventsByID(ctx, ids)
}

// hasURL reports whether an event's content has a "url" string, for
// contains_url filters.
func hasURL(pdu []byte) bool {
	content, ok := rawjson.Lookup(pdu, "content")
	if !ok {
		return false
	}
	_, ok = rawjson.LookupString(content, "url")
	return ok
}
