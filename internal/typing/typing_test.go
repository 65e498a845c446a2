package typing

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/axonhs/axon/internal/clock"
)

// members is a fixed membership list: "user room" pairs that are joined.
type members map[string]bool

func (m members) IsJoined(_ context.Context, user, room string) (bool, error) {
	return m[user+" "+room], nil
}

type fixture struct {
	svc   *Service
	clock *clock.Fake
	woken []string
}

func newFixture() *fixture {
	f := &fixture{clock: clock.NewFake(time.UnixMilli(1_700_000_000_000))}
	m := members{"@a:x !r:x": true, "@b:x !r:x": true, "@a:x !s:x": true}
	f.svc = New(m, f.clock, func(room string) { f.woken = append(f.woken, room) })
	return f
}

func (f *fixture) set(t *testing.T, user, room string, typing bool, timeout time.Duration) {
	t.Helper()
	if err := f.svc.Set(context.Background(), Request{Requester: user, Target: user, RoomID: room, Typing: typing, Timeout: timeout}); err != nil {
		t.Fatalf("set %s typing in %s: %v", user, room, err)
	}
}

func (f *fixture) typing(after int64, rooms ...string) string {
	return fmt.Sprint(f.svc.Changed(rooms, after, f.svc.Position()))
}

func TestTypingStartsAndStops(t *testing.T) {
	f := newFixture()
	f.set(t, "@a:x", "!r:x", true, 10*time.Second)
	f.set(t, "@b:x", "!r:x", true, 10*time.Second)
	if got := f.typing(0, "!r:x", "!s:x"); got != "map[!r:x:[@a:x @b:x]]" {
		t.Fatalf("typing = %s", got)
	}
	if f.svc.Position() != 2 || fmt.Sprint(f.woken) != "[!r:x !r:x]" {
		t.Fatalf("position %d, woke %v", f.svc.Position(), f.woken)
	}
	pos := f.svc.Position()
	f.set(t, "@a:x", "!r:x", false, 0)
	if got := f.typing(pos, "!r:x"); got != "map[!r:x:[@b:x]]" {
		t.Errorf("after a stops: %s", got)
	}
	// Stopping again changes nothing and wakes no one.
	pos, woken := f.svc.Position(), len(f.woken)
	f.set(t, "@a:x", "!r:x", false, 0)
	if f.svc.Position() != pos || len(f.woken) != woken {
		t.Error("a no-op stop moved the stream")
	}
	if got := f.typing(pos, "!r:x"); got != "map[]" {
		t.Errorf("nothing changed since %d, got %s", pos, got)
	}
}

func TestTypingExpires(t *testing.T) {
	f := newFixture()
	f.set(t, "@a:x", "!r:x", true, 10*time.Second)
	pos := f.svc.Position()
	f.clock.Advance(9 * time.Second)
	if got := f.typing(0, "!r:x"); got != "map[!r:x:[@a:x]]" {
		t.Fatalf("before the timeout: %s", got)
	}
	f.clock.Advance(time.Second)
	if got := f.typing(pos, "!r:x"); got != "map[!r:x:[]]" {
		t.Errorf("after the timeout: %s", got)
	}
	if f.clock.Pending() != 0 {
		t.Errorf("%d timers left", f.clock.Pending())
	}
}

func TestTypingAgainExtendsTheTimeoutWithoutANewPosition(t *testing.T) {
	f := newFixture()
	f.set(t, "@a:x", "!r:x", true, 10*time.Second)
	f.clock.Advance(8 * time.Second)
	pos := f.svc.Position()
	f.set(t, "@a:x", "!r:x", true, 10*time.Second)
	if f.svc.Position() != pos {
		t.Error("renewing a notification moved the stream")
	}
	f.clock.Advance(8 * time.Second) // 16 s after the first request: the first timer must not fire
	if got := f.typing(0, "!r:x"); got != "map[!r:x:[@a:x]]" {
		t.Fatalf("the old timer ended the renewed notification: %s", got)
	}
	f.clock.Advance(2 * time.Second)
	if got := f.typing(0, "!r:x"); got != "map[!r:x:[]]" {
		t.Errorf("after the renewed timeout: %s", got)
	}
}

func TestTypingTimeoutIsBounded(t *testing.T) {
	f := newFixture()
	f.set(t, "@a:x", "!r:x", true, time.Hour)
	f.clock.Advance(MaxTimeout)
	if got := f.typing(0, "!r:x"); got != "map[!r:x:[]]" {
		t.Errorf("an hour's timeout outlived the cap: %s", got)
	}
	f.set(t, "@a:x", "!r:x", true, -time.Second)
	f.clock.Advance(0)
	if got := f.typing(0, "!r:x"); got != "map[!r:x:[]]" {
		t.Errorf("a negative timeout is not immediate: %s", got)
	}
}

func TestTypingRules(t *testing.T) {
	f := newFixture()
	ctx := context.Background()
	err := f.svc.Set(ctx, Request{Requester: "@a:x", Target: "@b:x", RoomID: "!r:x", Typing: true, Timeout: time.Second})
	if !errors.Is(err, ErrNotSelf) {
		t.Errorf("typing for someone else: %v", err)
	}
	err = f.svc.Set(ctx, Request{Requester: "@b:x", Target: "@b:x", RoomID: "!s:x", Typing: true, Timeout: time.Second})
	if !errors.Is(err, ErrNotJoined) {
		t.Errorf("typing in a room one is not in: %v", err)
	}
	if f.svc.Position() != 0 {
		t.Error("refused requests moved the stream")
	}
}

func TestChangedLeavesLaterChangesToTheNextSync(t *testing.T) {
	f := newFixture()
	f.set(t, "@a:x", "!r:x", true, time.Minute)
	upTo := f.svc.Position()
	f.set(t, "@a:x", "!s:x", true, time.Minute)
	got := fmt.Sprint(f.svc.Changed([]string{"!r:x", "!s:x"}, 0, upTo))
	if got != "map[!r:x:[@a:x]]" {
		t.Errorf("changes up to %d: %s", upTo, got)
	}
}

func TestStopOnLeave(t *testing.T) {
	f := newFixture()
	f.set(t, "@a:x", "!r:x", true, time.Minute)
	f.svc.Stop("!r:x", "@a:x")
	if got := f.typing(0, "!r:x"); got != "map[!r:x:[]]" || f.clock.Pending() != 0 {
		t.Errorf("after leaving: %s, %d timers", got, f.clock.Pending())
	}
}
