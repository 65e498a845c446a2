package filter

import "testing"

func TestEventFilterMatches(t *testing.T) {
	f := &EventFilter{Types: []string{"m.room.*"}, NotTypes: []string{"m.room.member"}, NotSenders: []string{"@spam:x"}}
	cases := []struct {
		typ, sender string
		want        bool
	}{
		{"m.room.message", "@a:x", true},
		{"m.room.member", "@a:x", false},
		{"m.reaction", "@a:x", false},
		{"m.room.message", "@spam:x", false},
	}
	for _, c := range cases {
		if got := f.Matches(c.typ, c.sender); got != c.want {
			t.Errorf("Matches(%s, %s) = %v", c.typ, c.sender, got)
		}
	}
	var none *EventFilter
	if !none.Matches("anything", "@a:x") {
		t.Error("a nil filter refuses")
	}
}

func TestLimitOrClamps(t *testing.T) {
	neg, huge := int64(-5), int64(1<<40)
	if got := (&EventFilter{Limit: &neg}).LimitOr(10, 100); got != 1 {
		t.Errorf("negative limit gave %d", got)
	}
	if got := (&EventFilter{Limit: &huge}).LimitOr(10, 100); got != 100 {
		t.Errorf("huge limit gave %d", got)
	}
	if got := (*EventFilter)(nil).LimitOr(10, 100); got != 10 {
		t.Errorf("default gave %d", got)
	}
}

func TestRoomFilters(t *testing.T) {
	url := true
	f := &RoomEventFilter{Rooms: []string{"!a"}, ContainsURL: &url}
	if !f.MatchesEvent("!a", "m.room.message", "@u", true) || f.MatchesEvent("!a", "m.room.message", "@u", false) || f.MatchesEvent("!b", "m.room.message", "@u", true) {
		t.Error("rooms/contains_url not applied")
	}
	rf := &RoomFilter{NotRooms: []string{"!x"}}
	if rf.IncludesRoom("!x") || !rf.IncludesRoom("!y") {
		t.Error("not_rooms not applied")
	}
}
