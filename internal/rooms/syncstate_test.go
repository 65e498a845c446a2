package rooms

import (
	"fmt"
	"testing"

	"github.com/axonhs/axon/internal/storage"
)

func TestNeededMembers(t *testing.T) {
	member := func(user string) *Event {
		return &Event{EventRow: storage.EventRow{Type: typeMember, StateKey: &user, Sender: user}}
	}
	message := func(sender string) *Event {
		return &Event{EventRow: storage.EventRow{Type: "m.room.message", Sender: sender}}
	}
	// @a speaks first; @b joins (so the client learns @b's membership from
	// the timeline) and then speaks; @c speaks, then changes profile.
	timeline := []*Event{message("@a"), message("@a"), member("@b"), message("@b"), message("@c"), member("@c")}

	// With the classic state section, @b's join is its own first event: the
	// state before it is still fetched (Synapse's rule), but not for the
	// message after it.
	if got := fmt.Sprint(neededMembers(timeline, false)); got != "[@a @b @c]" {
		t.Errorf("before the timeline: %s", got)
	}
	if got := fmt.Sprint(neededMembers(timeline[3:], false)); got != "[@b @c]" {
		t.Errorf("before a timeline starting after @b's join: %s", got)
	}
	if got := fmt.Sprint(neededMembers([]*Event{message("@a"), message("@b"), message("@a")}, false)); got != "[@a @b]" {
		t.Errorf("plain senders: %s", got)
	}
	// A member event of @d sent by someone else before @d speaks.
	d := "@d"
	invite := &Event{EventRow: storage.EventRow{Type: typeMember, StateKey: &d, Sender: "@a"}}
	if got := fmt.Sprint(neededMembers([]*Event{invite, message("@d")}, false)); got != "[@a]" {
		t.Errorf("a member event before the sender's first event: %s", got)
	}
	// state_after: every sender, whatever the timeline holds.
	if got := fmt.Sprint(neededMembers([]*Event{invite, message("@d")}, true)); got != "[@a @d]" {
		t.Errorf("after the timeline: %s", got)
	}
}
