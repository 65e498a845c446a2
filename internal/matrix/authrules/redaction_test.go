package authrules

import (
	"strconv"
	"testing"
)

func TestRedactionApplies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		want   verMap
		setup  func(r *room)
		sender string
		orig   string // original's sender
	}{
		{name: "own server's event", want: ok("1-12"), sender: bob, orig: "@bob2:b"},
		{name: "other server's event by a user", want: merge(ok("1-2"), vm("3-12:no")), sender: bob, orig: alice},
		{name: "other server's event by the admin", want: ok("1-12"), sender: alice, orig: bob},
		{name: "redact level lowered", want: ok("1-12"), sender: bob, orig: alice,
			setup: func(r *room) { plWith(r, `"@bob:b":10`, `"redact":10`) }},
	} {
		for ver, want := range tc.want {
			r := newRoom(mustVersion(strconv.Itoa(ver)), "")
			r.setMember(bob, "join")
			if tc.setup != nil {
				tc.setup(r)
			}
			orig := r.msg(tc.orig, "m.room.message", `{}`)
			red := r.msg(tc.sender, TypeRedaction, `{}`)
			red.redacts = orig.id
			got := RedactionApplies(r.v, red, orig, r.get)
			if got != (want == "ok") {
				t.Errorf("%s v%d: got %v", tc.name, ver, got)
			}
			red.redacts = "$other:b"
			if RedactionApplies(r.v, red, orig, r.get) {
				t.Errorf("%s v%d: applies to an event it does not redact", tc.name, ver)
			}
		}
	}
}
