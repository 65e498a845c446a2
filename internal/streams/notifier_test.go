package streams

import (
	"slices"
	"testing"
)

func TestNotifierKnowsWhoSharesARoom(t *testing.T) {
	n := NewNotifier()
	n.SetMember("!r", "@a", true)
	n.SetMember("!r", "@b", true)
	n.SetMember("!s", "@b", true)
	n.SetMember("!s", "@c", true)
	n.SetMember("!t", "@d", true)

	sharers := func(user string) []string {
		var out []string
		n.Sharers(user, func(u string) { out = append(out, u) })
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		user string
		want []string
	}{
		{"@a", []string{"@a", "@b"}},
		{"@b", []string{"@a", "@b", "@c"}}, // @b is in two rooms, and counted once
		{"@d", []string{"@d"}},
		{"@nobody", []string{"@nobody"}},
	} {
		if got := sharers(c.user); !slices.Equal(got, c.want) {
			t.Errorf("sharers of %s: %v, want %v", c.user, got, c.want)
		}
	}
	if !n.SharesRoom("@a", "@b") || n.SharesRoom("@a", "@c") || !n.SharesRoom("@d", "@d") {
		t.Error("SharesRoom disagrees with the rooms")
	}

	n.SetMember("!r", "@a", false)
	if n.SharesRoom("@a", "@b") || !slices.Equal(sharers("@a"), []string{"@a"}) {
		t.Error("@a still shares a room after leaving it")
	}
	members := n.RoomMembers("!s")
	slices.Sort(members)
	if !slices.Equal(members, []string{"@b", "@c"}) {
		t.Errorf("members of !s: %v", members)
	}
	if len(n.userRooms["@a"]) != 0 || len(n.roomUsers["!r"]) != 1 {
		t.Errorf("leaving left entries behind: %v, %v", n.userRooms, n.roomUsers)
	}
}

func TestWakeSharers(t *testing.T) {
	n := NewNotifier()
	n.SetMember("!r", "@a", true)
	n.SetMember("!r", "@b", true)
	n.SetMember("!s", "@c", true)
	a, b, c := n.Listen("@a"), n.Listen("@b"), n.Listen("@c")
	n.WakeSharers("@a")
	for name, ch := range map[string]<-chan struct{}{"@a": a, "@b": b} {
		select {
		case <-ch:
		default:
			t.Errorf("%s was not woken", name)
		}
	}
	select {
	case <-c:
		t.Error("@c shares no room with @a but was woken")
	default:
	}
}
