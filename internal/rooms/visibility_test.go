package rooms

import "testing"

func TestVisibleTo(t *testing.T) {
	cases := []struct {
		hv, atEvent, now string
		want             bool
	}{
		// world_readable: everyone, members or not.
		{visWorldReadable, "", "", true},
		{visWorldReadable, membershipLeave, membershipLeave, true},
		// Joined at the event: always.
		{visJoined, membershipJoin, membershipLeave, true},
		{visJoined, "", membershipJoin, false},
		{visJoined, membershipInvite, membershipJoin, false},
		// invited: from the invite on.
		{visInvited, membershipInvite, membershipInvite, true},
		{visInvited, "", membershipJoin, false},
		// shared: the whole history for members, none for outsiders, and
		// nothing after one left unless one is back.
		{visShared, "", membershipJoin, true},
		{visShared, "", "", false},
		{visShared, "", membershipLeave, true},
		{visShared, membershipLeave, membershipLeave, false},
		{visShared, membershipLeave, membershipJoin, true},
		{visShared, membershipBan, membershipBan, false},
	}
	for _, c := range cases {
		if got := visibleTo(c.hv, c.atEvent, c.now); got != c.want {
			t.Errorf("visibleTo(%q, at event %q, now %q) = %v, want %v", c.hv, c.atEvent, c.now, got, c.want)
		}
	}
}
