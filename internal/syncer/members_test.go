package syncer

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/axonhs/axon/internal/rooms"
	"github.com/axonhs/axon/internal/storage"
	"github.com/axonhs/axon/internal/streams"
)

func memberEvent(user, membership string, pos int64) *rooms.Event {
	return &rooms.Event{EventRow: storage.EventRow{
		Pos: pos, Type: typeMember, StateKey: &user, Sender: user,
		PDU: []byte(`{"type":"m.room.member","content":{"membership":"` + membership + `"}}`),
	}}
}

func TestNoteNewMembers(t *testing.T) {
	since := streams.Token{Events: 10}
	run := func(req Request, slice rooms.RoomSlice) string {
		req.newMembers = map[string]bool{}
		noteNewMembers(req, slice)
		return fmt.Sprint(slices.Sorted(maps.Keys(req.newMembers)))
	}
	slice := rooms.RoomSlice{
		// The state: @old's membership from before the token (lazy-loaded,
		// not news), @gap joined in the gap.
		State: []*rooms.Event{memberEvent("@old", "join", 3), memberEvent("@gap", "join", 11)},
		Timeline: []*rooms.Event{
			memberEvent("@me", "join", 12),
			memberEvent("@inv", "invite", 13),
			memberEvent("@brief", "join", 14),
			memberEvent("@brief", "leave", 15),
			memberEvent("@knock", "knock", 16),
		},
	}
	if got := run(Request{User: "@me", Since: &since}, slice); got != "[@gap @inv @knock]" {
		t.Errorf("classic state: %s", got)
	}
	// With state_after the state is final: @brief's leave is there, after
	// the timeline's join.
	after := rooms.RoomSlice{
		State:    []*rooms.Event{memberEvent("@brief", "leave", 15)},
		Timeline: []*rooms.Event{memberEvent("@brief", "join", 14), memberEvent("@x", "join", 16)},
	}
	if got := run(Request{User: "@me", Since: &since, UseStateAfter: true}, after); got != "[@x]" {
		t.Errorf("state_after: %s", got)
	}
	if got := run(Request{User: "@me"}, slice); got != "[]" {
		t.Errorf("initial sync: %s", got)
	}
}
