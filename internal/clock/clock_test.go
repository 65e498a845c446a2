package clock

import (
	"fmt"
	"testing"
	"time"
)

func TestFakeRunsDueCallsInOrder(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_000)
	c := NewFake(start)
	var got []string
	var at []time.Duration
	record := func(name string) func() {
		return func() { got = append(got, name); at = append(at, c.Now().Sub(start)) }
	}
	c.AfterFunc(3*time.Second, record("c"))
	c.AfterFunc(time.Second, record("a"))
	stopped := c.AfterFunc(2*time.Second, record("never"))
	c.AfterFunc(2*time.Second, func() {
		record("b")()
		c.AfterFunc(500*time.Millisecond, record("b2")) // scheduled by a call, due within the advance
	})
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop reports whether the call was still pending")
	}
	c.Advance(2500 * time.Millisecond)
	if want := "[a b b2]"; fmt.Sprint(got) != want {
		t.Fatalf("ran %v, want %s", got, want)
	}
	if at[0] != time.Second || at[1] != 2*time.Second || at[2] != 2500*time.Millisecond {
		t.Errorf("calls saw times %v", at)
	}
	if c.Pending() != 1 {
		t.Errorf("%d calls pending, want 1", c.Pending())
	}
	c.Advance(time.Second)
	if fmt.Sprint(got) != "[a b b2 c]" || c.Now().Sub(start) != 3500*time.Millisecond {
		t.Errorf("after the second advance: %v at %v", got, c.Now().Sub(start))
	}
}
