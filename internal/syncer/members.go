package syncer

import (
	"context"

	"github.com/axonhs/axon/internal/matrix/rawjson"
	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/streams"
)

const typeMember = "m.room.member"

// lazyMembers reports whether a request lazy-loads room members, and
// whether it wants redundant member events all the same.
func lazyMembers(req Request) (lazy, redundant bool) {
	if req.Filter == nil || req.Filter.Room == nil {
		return false, false
	}
	st := req.Filter.Room.State
	return st.LazyLoad(), st != nil && st.IncludeRedundantMembers != nil && *st.IncludeRedundantMembers
}

// trackMembers reports whether the member events sent to the device are
// remembered for the request: it lazy-loads members without asking for
// the redundant ones.
func (s *Service) trackMembers(req Request) bool {
	lazy, redundant := lazyMembers(req)
	return lazy && !redundant
}

// knownMember is the KnownMember of a room's slice: on an incremental
// sync that tracks members, whether the device holds a member event.
func (s *Service) knownMember(req Request, roomID string) func(user, eventID string) bool {
	if !s.trackMembers(req) || req.Since == nil || req.FullState {
		return nil
	}
	dev, since := deviceKey{req.User, req.DeviceID}, req.Since.Events
	return func(user, eventID string) bool { return s.members.known(dev, roomID, user, eventID, since) }
}

// noteMembersSent records the member events a response gives the client
// in a room: its state, and with the classic state section the timeline
// too, which the client applies after it. A response at the same events
// position as its token is not recorded, since a client that lost it
// would sync again from that position and must get them again.
func (s *Service) noteMembersSent(req Request, roomID string, cur streams.Token, slice rooms.RoomSlice) {
	if !s.trackMembers(req) || (req.Since != nil && cur.Events <= req.Since.Events) {
		return
	}
	sent := map[string]string{}
	add := func(evs []*rooms.Event) {
		for _, ev := range evs {
			if ev.Type == typeMember && ev.StateKey != nil {
				sent[*ev.StateKey] = ev.EventID
			}
		}
	}
	add(slice.State)
	if !req.UseStateAfter {
		add(slice.Timeline)
	}
	s.members.record(deviceKey{req.User, req.DeviceID}, roomID, sent, cur.Events)
}

// addHeroes adds to the state of a room whose members are lazy-loaded the
// member events of the summary's heroes that the client may lack, as the
// spec requires: those neither in the state nor (with the classic state
// section) in the timeline, nor known to the device.
func (s *Service) addHeroes(ctx context.Context, req Request, roomID string, from int64, cur streams.Token, heroes []string, slice rooms.RoomSlice) ([]*rooms.Event, error) {
	if lazy, _ := lazyMembers(req); !lazy || len(heroes) == 0 {
		return slice.State, nil
	}
	have := map[string]bool{}
	lists := [][]*rooms.Event{slice.State}
	if !req.UseStateAfter {
		lists = append(lists, slice.Timeline)
	}
	for _, list := range lists {
		for _, ev := range list {
			if ev.Type == typeMember && ev.StateKey != nil {
				have[*ev.StateKey] = true
			}
		}
	}
	var missing []string
	for _, h := range heroes {
		if !have[h] {
			missing = append(missing, h)
		}
	}
	evs, err := s.rooms.MemberEventsAt(ctx, roomID, cur.Events, missing)
	if err != nil {
		return nil, err
	}
	known := s.knownMember(req, roomID)
	st := req.Filter.Room.State
	out := slice.State
	for _, ev := range evs {
		if from > 0 && known != nil && known(*ev.StateKey, ev.EventID) {
			continue
		}
		if st.MatchesEvent(roomID, ev.Type, ev.Sender, false) {
			out = append(out, ev)
		}
	}
	return out, nil
}

// noteNewMembers collects the users that a room's events since the token
// brought in (joined, invited or knocking), so that the response carries
// their presence (Synapse's newly joined users). Their final membership in
// the response counts: someone who joined and left again is not new.
func noteNewMembers(req Request, slice rooms.RoomSlice) {
	if req.Since == nil || req.FullState || req.newMembers == nil {
		return
	}
	// The classic state section comes before the timeline; state_after
	// is the state at its end.
	lists := [][]*rooms.Event{slice.State, slice.Timeline}
	if req.UseStateAfter {
		lists[0], lists[1] = lists[1], lists[0]
	}
	final := map[string]string{}
	for _, list := range lists {
		for _, ev := range list {
			if ev.Type == typeMember && ev.StateKey != nil && ev.Pos > req.Since.Events {
				final[*ev.StateKey] = membership(ev)
			}
		}
	}
	for user, m := range final {
		if user != req.User && (m == rooms.MembershipJoin || m == rooms.MembershipInvite || m == rooms.MembershipKnock) {
			req.newMembers[user] = true
		}
	}
}

// membership is the membership of a member event.
func membership(ev *rooms.Event) string {
	content, _ := rawjson.Lookup(ev.PDU, "content")
	m, _ := rawjson.LookupString(content, "membership")
	return m
}
