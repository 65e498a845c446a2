package push

import (
	"fmt"
	"testing"
)

var benchMessage = pdu("m.room.message",
	`{"body":"Are we still on for lunch tomorrow? I booked the usual place for half past twelve.","msgtype":"m.text"}`)

// BenchmarkEvaluateMessage is one recipient's default rules against an
// ordinary group message, which no override rule matches, so every rule
// up to .m.rule.message runs.
func BenchmarkEvaluateMessage(b *testing.B) {
	c := Compile(buildRuleset(bob, nil))
	ev := NewEvent(benchMessage, group)
	if out := c.Evaluate(ev, "Bobby"); out.RuleID != ".m.rule.message" {
		b.Fatalf("outcome %+v", out)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Evaluate(ev, "Bobby")
	}
}

// BenchmarkEvaluateRoom100 is one message in a room with 100 local
// members: the event is prepared once and every member's own rules run.
func BenchmarkEvaluateRoom100(b *testing.B) {
	const members = 100
	compiled := make([]*Compiled, members)
	names := make([]string, members)
	for i := range members {
		user := fmt.Sprintf("@user%d:example.org", i)
		compiled[i] = Compile(buildRuleset(user, nil))
		names[i] = fmt.Sprintf("User Number %d", i)
	}
	room := fakeRoom{members: members}
	b.ReportAllocs()
	for b.Loop() {
		ev := NewEvent(benchMessage, room)
		for i, c := range compiled {
			if !c.Evaluate(ev, names[i]).Notify {
				b.Fatal("no notification")
			}
		}
	}
}
