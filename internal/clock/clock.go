// Package clock is the time source of services that act on timers
// (typing expiry, presence timeouts), so their tests can move time by
// hand instead of sleeping.
package clock

import (
	"slices"
	"sync"
	"time"
)

// Timer is a scheduled call; Stop cancels it and reports whether it had
// not run yet.
type Timer interface {
	Stop() bool
}

// Clock tells the time and schedules calls.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Real is the system clock.
type Real struct{}

// Now is time.Now.
func (Real) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Fake is a clock for tests: time stands still until Advance, which runs
// the calls that fell due, in order, before it returns.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	seq    int
}

// NewFake returns a fake clock reading now.
func NewFake(now time.Time) *Fake { return &Fake{now: now} }

type fakeTimer struct {
	c    *Fake
	at   time.Time
	seq  int // orders timers due at the same instant by creation
	f    func()
	done bool
}

// Now returns the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f at now+d; it runs during the Advance that reaches
// that time (a non-positive d runs at the next Advance).
func (c *Fake) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, at: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

// Stop cancels the timer.
func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	t.c.timers = slices.DeleteFunc(t.c.timers, func(o *fakeTimer) bool { return o == t })
	return true
}

// Advance moves the time forward by d, running every call that falls due
// on the way at its own instant. Calls run on the caller's goroutine, so
// their effects are visible when Advance returns; a call may schedule
// more calls, which run too if they fall due within d.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		t := c.nextDue(end)
		if t == nil {
			break
		}
		t.f()
	}
	c.mu.Lock()
	c.now = end
	c.mu.Unlock()
}

// nextDue removes and returns the earliest timer due by end, setting the
// time to its instant; nil when none is due.
func (c *Fake) nextDue(end time.Time) *fakeTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	var next *fakeTimer
	for _, t := range c.timers {
		if t.at.After(end) {
			continue
		}
		if next == nil || t.at.Before(next.at) || (t.at.Equal(next.at) && t.seq < next.seq) {
			next = t
		}
	}
	if next == nil {
		return nil
	}
	next.done = true
	c.timers = slices.DeleteFunc(c.timers, func(o *fakeTimer) bool { return o == next })
	if next.at.After(c.now) {
		c.now = next.at
	}
	return next
}

// Pending is the number of scheduled calls that have not run.
func (c *Fake) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}
