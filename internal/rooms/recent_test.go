package rooms

import (
	"fmt"
	"slices"
	"testing"

	"github.com/axonhs/axon/internal/storage"
)

func noteEvent(r *recentEvents, room string, pos, group int64) {
	r.note([]*write{{row: storage.PersistEvent{Event: storage.EventRow{
		RoomID: room, Pos: pos, StateGroup: group, EventID: fmt.Sprintf("$%d", pos),
	}}}})
}

func TestRecentEventsChangedAfter(t *testing.T) {
	r := newRecentEvents(10)
	noteEvent(r, "!a:x", 12, 1)
	noteEvent(r, "!b:x", 11, 2)
	noteEvent(r, "!a:x", 14, 1)
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
		if got := r.changedAfter(c.room, c.after); got != c.want {
			t.Errorf("changedAfter(%s, %d) = %v, want %v", c.room, c.after, got, c.want)
		}
	}
}

func TestRecentEventsNewest(t *testing.T) {
	r := newRecentEvents(100)
	// Room a: events 101..100+recentPerRoom+8, so the oldest 8 fell out.
	last := int64(100 + recentPerRoom + 8)
	for pos := int64(101); pos <= last; pos++ {
		noteEvent(r, "!a:x", pos, pos)
		noteEvent(r, "!noise:x", 1000+pos, 1) // other rooms interleave
	}
	ids := func(from, to int64) []string { // newest first
		var out []string
		for p := to; p >= from; p-- {
			out = append(out, fmt.Sprintf("$%d", p))
		}
		return out
	}
	floor := int64(108) // events up to 108 were dropped
	for _, c := range []struct {
		after, upTo int64
		n           int
		want        []string
		ok          bool
	}{
		{0, last, 11, ids(last-10, last), true},                // initial sync, enough indexed
		{last - 3, last, 11, ids(last-2, last), true},          // incremental
		{last, last, 11, nil, true},                            // nothing new
		{0, last - 5, 3, ids(last-7, last-5), true},            // bounded above
		{floor, last, 100, ids(floor+1, last), true},           // all indexed
		{floor - 1, last, 100, nil, false},                     // 108 is not indexed
		{0, last, recentPerRoom + 1, nil, false},               // more than indexed
		{floor - 1, floor + 3, 2, ids(floor+2, floor+3), true}, // limit reached first
	} {
		got, ok := r.newest("!a:x", c.after, c.upTo, c.n)
		if ok != c.ok || (ok && !slices.Equal(got, c.want)) {
			t.Errorf("newest(after %d, upTo %d, n %d) = %v, %v; want %v, %v", c.after, c.upTo, c.n, got, ok, c.want, c.ok)
		}
	}
	if got, ok := r.newest("!never:x", 0, last, 10); ok || got != nil {
		t.Errorf("a room without events since start-up answered from before start-up: %v, %v", got, ok)
	}
	if got, ok := r.newest("!never:x", 100, last, 10); !ok || len(got) != 0 {
		t.Errorf("a room without events since start-up: %v, %v; want none, ok", got, ok)
	}
}

func TestRecentEventsStateGroupAt(t *testing.T) {
	r := newRecentEvents(0)
	noteEvent(r, "!a:x", 5, 50)
	noteEvent(r, "!a:x", 9, 90)
	for _, c := range []struct {
		pos   int64
		group int64
		ok    bool
	}{{4, 0, false}, {5, 50, true}, {8, 50, true}, {9, 90, true}, {100, 90, true}} {
		if g, ok := r.stateGroupAt("!a:x", c.pos); g != c.group || ok != c.ok {
			t.Errorf("stateGroupAt(%d) = %d, %v; want %d, %v", c.pos, g, ok, c.group, c.ok)
		}
	}
}

func TestRecentEventsShrinkKeepsAnswersRight(t *testing.T) {
	r := newRecentEvents(0)
	rooms := maxRecentEntries/recentPerRoom + 1
	pos := int64(0)
	for range recentPerRoom {
		for i := range rooms {
			pos++
			noteEvent(r, fmt.Sprintf("!%d:x", i), pos, pos)
		}
	}
	if r.entries > maxRecentEntries {
		t.Fatalf("%d entries kept, bound %d", r.entries, maxRecentEntries)
	}
	for id, room := range r.rooms {
		if len(room.events) > 0 {
			continue
		}
		// A forgotten room still knows it changed, but answers nothing
		// from before its floor.
		if !r.changedAfter(id, room.last-1) || r.changedAfter(id, room.last) {
			t.Fatalf("%s: changedAfter wrong after shrinking", id)
		}
		if _, ok := r.newest(id, 0, pos, 10); ok {
			t.Fatalf("%s: newest answered without its events", id)
		}
		if ids, ok := r.newest(id, room.last, pos, 10); !ok || len(ids) != 0 {
			t.Fatalf("%s: newest after its last event: %v, %v", id, ids, ok)
		}
		return
	}
	t.Fatal("no room was shrunk")
}
