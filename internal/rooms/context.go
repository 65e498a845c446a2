package rooms

import (
	"context"
	"fmt"

	"github.com/axonhs/axon/internal/filter"
)

// ContextRequest is GET /rooms/{roomId}/context/{eventId}.
type ContextRequest struct {
	User    string
	RoomID  string
	EventID string
	Limit   int // events before and after together
	Filter  *filter.RoomEventFilter
}

// EventContext is an event with the events around it and the room state
// at the last of them.
type EventContext struct {
	Event  *Event
	Before []*Event // newest first
	After  []*Event // oldest first
	Start  int64    // token to paginate backwards from Before
	End    int64    // token to paginate forwards from After
	State  []*Event
}

// Context returns the event and up to Limit events around it that user
// may see: half before, the rest after, as Synapse splits them.
func (s *Service) Context(ctx context.Context, req ContextRequest) (EventContext, error) {
	ev, err := s.EventFor(ctx, req.User, req.RoomID, req.EventID)
	if err != nil {
		return EventContext{}, err
	}
	before := req.Limit / 2
	after := req.Limit - before
	out := EventContext{Event: ev, Start: ev.Pos - 1, End: ev.Pos}
	if before > 0 {
		page, err := s.Messages(ctx, MessagesRequest{User: req.User, RoomID: req.RoomID, From: ev.Pos - 1, To: -1, Backwards: true, Limit: before, Filter: req.Filter})
		if err != nil {
			return EventContext{}, err
		}
		out.Before = page.Events
		if n := len(page.Events); n > 0 {
			out.Start = page.Events[n-1].Pos - 1
		}
	}
	if after > 0 {
		page, err := s.Messages(ctx, MessagesRequest{User: req.User, RoomID: req.RoomID, From: ev.Pos, To: -1, Limit: after, Filter: req.Filter})
		if err != nil {
			return EventContext{}, err
		}
		out.After = page.Events
		if n := len(page.Events); n > 0 {
			out.End = page.Events[n-1].Pos
		}
	}
	last := ev
	if n := len(out.After); n > 0 {
		last = out.After[n-1]
	}
	state, err := s.stateAt(ctx, last.StateGroup)
	if err != nil {
		return EventContext{}, fmt.Errorf("state at %s: %w", last.EventID, err)
	}
	var ids []string
	senders := map[string]bool{ev.Sender: true, req.User: true}
	for _, e := range append(append([]*Event{}, out.Before...), out.After...) {
		senders[e.Sender] = true
	}
	lazy := req.Filter.LazyLoad()
	for k, id := range state {
		if lazy && k.Type == typeMember && !senders[k.StateKey] {
			continue
		}
		ids = append(ids, id)
	}
	if out.State, err = s.eventsByID(ctx, ids); err != nil {
		return EventContext{}, err
	}
	return out, nil
}
