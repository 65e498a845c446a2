package ratelimit

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newFake(perSecond, burst float64, opts ...Option) (*Limiter, *fakeClock) {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	return New(perSecond, burst, append([]Option{WithClock(c.now)}, opts...)...), c
}

func TestBurstThenRefused(t *testing.T) {
	l, _ := newFake(0.17, 3)
	for i := range 3 {
		if ok, _ := l.Allow("1.2.3.4"); !ok {
			t.Fatalf("action %d refused within the burst", i+1)
		}
	}
	ok, wait := l.Allow("1.2.3.4")
	if ok {
		t.Fatal("fourth action allowed")
	}
	// The bucket holds 3; one more fits once it drains to 2: 1/0.17 s.
	rate := 0.17
	want := time.Duration(float64(time.Second) / rate)
	if d := wait - want; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("retryAfter = %v, want about %v", wait, want)
	}
	if ok, _ := l.Allow("5.6.7.8"); !ok {
		t.Error("another key is limited too")
	}
}

func TestRefillAndRefusedActionsAreNotCounted(t *testing.T) {
	l, c := newFake(1, 2)
	l.Allow("k")
	l.Allow("k")
	for range 10 { // hammering while limited must not dig a deeper hole
		if ok, _ := l.Allow("k"); ok {
			t.Fatal("allowed over the burst")
		}
	}
	c.advance(999 * time.Millisecond)
	if ok, wait := l.Allow("k"); ok || wait != time.Millisecond {
		t.Fatalf("just before refill: ok=%v wait=%v", ok, wait)
	}
	c.advance(time.Millisecond)
	if ok, _ := l.Allow("k"); !ok {
		t.Fatal("refused after one action drained")
	}
	if ok, _ := l.Allow("k"); ok {
		t.Fatal("two allowed after one drained")
	}
	c.advance(time.Hour) // drains fully, never below empty
	for i := range 2 {
		if ok, _ := l.Allow("k"); !ok {
			t.Fatalf("action %d after a long pause refused", i+1)
		}
	}
	if ok, _ := l.Allow("k"); ok {
		t.Fatal("a long pause saved up more than the burst")
	}
}

func TestCheckDoesNotCount(t *testing.T) {
	l, _ := newFake(0.1, 1)
	for range 5 {
		if ok, _ := l.Check("k"); !ok {
			t.Fatal("Check refused an unused key")
		}
	}
	if l.Len() != 0 {
		t.Errorf("Check created %d buckets", l.Len())
	}
	l.Allow("k")
	if ok, wait := l.Check("k"); ok || wait != 10*time.Second {
		t.Errorf("Check after the burst: ok=%v wait=%v", ok, wait)
	}
}

func TestNilLimiterAllowsEverything(t *testing.T) {
	var l *Limiter
	for range 100 {
		if ok, _ := l.Allow("k"); !ok {
			t.Fatal("nil limiter refused")
		}
	}
	if ok, _ := l.Check("k"); !ok || l.Len() != 0 {
		t.Fatal("nil limiter Check/Len")
	}
}

func TestEdgeSettings(t *testing.T) {
	t.Run("burst 0 refuses everything", func(t *testing.T) {
		l, _ := newFake(10, 0)
		if ok, wait := l.Allow("k"); ok || wait != 0 {
			t.Errorf("ok=%v wait=%v", ok, wait)
		}
	})
	t.Run("per_second 0 never refills", func(t *testing.T) {
		l, c := newFake(0, 2)
		l.Allow("k")
		l.Allow("k")
		c.advance(1000 * time.Hour)
		if ok, wait := l.Allow("k"); ok || wait != 0 {
			t.Errorf("ok=%v wait=%v", ok, wait)
		}
	})
	t.Run("Complement's 9999 is no practical limit", func(t *testing.T) {
		l, _ := newFake(9999, 9999)
		for i := range 5000 {
			if ok, _ := l.Allow("k"); !ok {
				t.Fatalf("action %d refused", i)
			}
		}
	})
	t.Run("fractional burst", func(t *testing.T) {
		l, _ := newFake(1, 1.5)
		if ok, _ := l.Allow("k"); !ok {
			t.Fatal("first refused")
		}
		if ok, _ := l.Allow("k"); ok {
			t.Fatal("second allowed with burst 1.5")
		}
	})
	t.Run("a clock going backwards drains nothing", func(t *testing.T) {
		l, c := newFake(1, 1)
		l.Allow("k")
		c.advance(-time.Hour)
		if ok, _ := l.Allow("k"); ok {
			t.Fatal("allowed")
		}
	})
}

func TestDrainedKeysAreEvicted(t *testing.T) {
	l, c := newFake(1, 3)
	for i := range 1000 {
		l.Allow(fmt.Sprint("old", i))
	}
	c.advance(2 * time.Second) // every bucket (level 1) is empty now
	for i := range 1000 {
		l.Allow(fmt.Sprint("new", i))
	}
	// Each new key removes up to pruneScan drained ones, so the old keys
	// are gone long before the new ones have all arrived.
	if n := l.Len(); n != 1000 {
		t.Errorf("%d keys tracked, want only the 1000 live ones", n)
	}
}

func TestKeyCountIsBounded(t *testing.T) {
	l, _ := newFake(0.001, 5, WithMaxKeys(100))
	for i := range 10_000 {
		l.Allow(fmt.Sprint("ip", i))
		if n := l.Len(); n > 100 {
			t.Fatalf("%d keys tracked after %d, cap 100", n, i+1)
		}
	}
	// The most recent keys are kept, and a key in use stays in use: the
	// least recently used one is dropped first.
	hot := "ip9999"
	for range 4 {
		l.Allow(hot)
	}
	for i := range 99 {
		l.Allow(fmt.Sprint("more", i))
	}
	if ok, _ := l.Allow(hot); ok {
		t.Error("the recently used key was evicted and its limit forgotten")
	}
}

func TestConcurrentUse(t *testing.T) {
	l := New(0, 50) // no refill: exactly 50 actions per key, whatever the clock
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if ok, _ := l.Allow("shared"); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if allowed != 50 {
		t.Errorf("%d actions allowed, want 50", allowed)
	}
}

// allowed counts how many of n actions for user/key are allowed at once.
func allowed(l *Limiter, user, key string, n int) int {
	got := 0
	for range n {
		if ok, _ := l.AllowFor(user, key); ok {
			got++
		}
	}
	return got
}

func TestOverrides(t *testing.T) {
	overrides := map[string]Override{
		"@fast:x":   {PerSecond: 5, Burst: 10},
		"@free:x":   {PerSecond: 0, Burst: 0},
		"@frozen:x": {PerSecond: 1, Burst: 0},
	}
	lookup := func(user string) (Override, bool) { o, ok := overrides[user]; return o, ok }
	l, c := newFake(0.2, 3, WithOverrides(lookup))

	if got := allowed(l, "@plain:x", "@plain:x", 20); got != 3 {
		t.Errorf("user without override: %d allowed, want the limiter's burst of 3", got)
	}
	if got := allowed(l, "@fast:x", "@fast:x", 20); got != 10 {
		t.Errorf("overridden user: %d allowed, want the override's burst of 10", got)
	}
	// The override's rate drains the bucket: 5 a second.
	c.advance(time.Second)
	if got := allowed(l, "@fast:x", "@fast:x", 20); got != 5 {
		t.Errorf("overridden user after a second: %d allowed, want 5", got)
	}
	if got := allowed(l, "@free:x", "@free:x", 100); got != 100 {
		t.Errorf("exempt user: %d allowed, want all", got)
	}
	// As in Synapse, a burst of 0 with a rate refuses everything.
	if got := allowed(l, "@frozen:x", "@frozen:x", 5); got != 0 {
		t.Errorf("burst 0: %d allowed", got)
	}
	// Allow and Check name no user, so no override applies.
	for range 3 {
		l.Allow("@free:x")
	}
	if ok, _ := l.Check("@free:x"); ok {
		t.Error("Allow without a user used the exemption")
	}
	if ok, _ := l.CheckFor("@free:x", "@free:x"); !ok {
		t.Error("CheckFor ignored the exemption")
	}

	// Overrides are looked up on every action: a change applies at once.
	overrides["@plain:x"] = Override{}
	if got := allowed(l, "@plain:x", "@plain:x", 10); got != 10 {
		t.Errorf("newly exempt user: %d allowed", got)
	}
	delete(overrides, "@plain:x")
	if ok, _ := l.AllowFor("@plain:x", "@plain:x"); ok {
		t.Error("an override removed still applies")
	}
}

func TestExemptionsIgnoreOverrideValues(t *testing.T) {
	overrides := map[string]Override{
		"@fast:x": {PerSecond: 5, Burst: 10},
		"@free:x": {},
	}
	lookup := func(user string) (Override, bool) { o, ok := overrides[user]; return o, ok }
	l, _ := newFake(0.1, 2, WithExemptions(lookup))
	if got := allowed(l, "@fast:x", "room", 20); got != 2 {
		t.Errorf("non-zero override: %d allowed, want the limiter's burst of 2", got)
	}
	// The exemption follows the user, whatever the key.
	if got := allowed(l, "@free:x", "room", 20); got != 20 {
		t.Errorf("exempt user: %d allowed", got)
	}
	if got := allowed(l, "@free:x", "other room", 20); got != 20 {
		t.Errorf("exempt user: %d allowed", got)
	}
	if got := allowed(l, "@other:x", "other room", 5); got != 2 {
		t.Errorf("the exempt user's actions were counted: another user got %d of the burst of 2", got)
	}
}
