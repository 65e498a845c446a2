package rooms

import (
	"testing"

	"github.com/axonhs/axon/internal/storage"
)

func TestLatestEventsChangedAfter(t *testing.T) {
	l := latestEvents{since: 10, pos: map[string]int64{}}
	commit := func(room string, pos int64) {
		l.note([]*write{{row: storage.PersistEvent{Event: storage.EventRow{RoomID: room, Pos: pos}}}})
	}
	commit("!a:x", 12)
	commit("!b:x", 11)
	commit("!a:x", 14)
	for _, c := range []struct {
		room  string
		after int64
		want  bool
	}{
		{"!a:x", 13, true},  // its latest event is 14
		{"!a:x", 14, false}, // nothing after 14
		{"!b:x", 10, true},
		{"!b:x", 11, false},
		{"!c:x", 9, true},   // no event since start-up, but one may lie in (9, 10]
		{"!c:x", 10, false}, // no event since start-up, asked from start-up on
		{"!c:x", 20, false},
	} {
		if got := l.changedAfter(c.room, c.after); got != c.want {
			t.Errorf("changedAfter(%s, %d) = %v, want %v", c.room, c.after, got, c.want)
		}
	}
}
